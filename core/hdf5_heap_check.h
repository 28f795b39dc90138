// A check libhdf5 needs before it reads a file from outside: its global heap collections.
#pragma once

#include <string>

namespace cmbench::h5 {

// libhdf5 (1.10 to 2.2 at least) loads a global heap collection, where variable-length strings
// live, by stepping from object to object by each one's declared size. A free-space object
// declaring 0 bytes never moves the step on, and the read never returns (H5HGcache.c; the inputs in
// fuzz/regressions/checkpoint/global_heap_*). Every collection of the file ("GCOL" version 1) is
// walked here the same way first: each object must move the walk on and end inside its collection,
// and the collection inside the file. InputError naming the file and the collection's offset
// otherwise. Reads the file once, in pieces; a file with no HDF5 superblock is left to the opener.
void check_global_heaps(const std::string& path);

}  // namespace cmbench::h5
