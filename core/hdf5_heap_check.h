// A check libhdf5 needs before it reads a file from outside: its global heap collections.
#pragma once

#include <H5Cpp.h>

#include <string>

namespace cmbench::h5 {

// libhdf5 (1.10 to 2.2 at least) loads a global heap collection, where variable-length strings
// live, by stepping from object to object by each one's declared size. A free-space object
// declaring 0 bytes never moves the step on, and the read never returns (H5HGcache.c; the inputs in
// fuzz/regressions/checkpoint/global_heap_*). Every collection of the file ("GCOL" version 1) is
// walked here the same way first: each object must move the walk on and end inside its collection,
// and the collection inside the file and inside the end of allocation its superblock declares
// (libhdf5 builds with assertions abort on one that is not). InputError naming the file and the
// collection's offset otherwise. Reads the file once, in pieces; a file with no HDF5 superblock is left to the opener.
void check_global_heaps(const std::string& path);

// libhdf5 reads a variable-length string from the global heap collection its reference names, first
// 4096 bytes of it, cut short at the end of allocation; builds with assertions (Debian testing's
// libhdf5 2.2) abort when they are cut short (H5HGcache.c, get_final_load_size), wherever the
// reference points. Reads the attribute's reference without visiting the heap (a conversion to an
// opaque type that keeps the bytes on disk) and refuses, naming `where` and the attribute, one that
// points less than 4096 bytes before the end of allocation. Other attributes are left alone.
void check_variable_length_reference(const H5::Attribute& attribute, const std::string& where,
                                     const std::string& name);

}  // namespace cmbench::h5
