// The ranks of a multi-process job and the collectives they run (issue 13): a small interface over
// LibTorch's own c10d (ProcessGroupGloo with a TCPStore rendezvous at the launch environment's
// MASTER_ADDR:MASTER_PORT), and the one-process group every single-process run uses. Data-parallel
// training (harness/trainer.cpp) and sharded evaluation build on these five calls only.
//
//   auto group = open_process_group(read_launch_env());   // single_process() without a launcher
//   average_gradients(*group, params);                     // DDP: bucketed sum / world size
//
// Every collective waits at most ProcessGroupOptions::timeout; a peer that died or hangs makes it
// throw CheckError naming this rank, the collective and the cause, on every surviving rank.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "core/launch_env.h"

namespace cmbench {

// Which backend runs the collectives of CUDA tensors (CMBENCH_DIST_BACKEND = auto | nccl | gloo). CPU
// tensors and barriers always go through Gloo, as torch.distributed's default "cpu:gloo,cuda:nccl".
enum class CudaCollectives {
  automatic,  // NCCL where this build has it and the rank sees a GPU, else Gloo through the CPU
  nccl,       // NCCL, or an InputError at the start when this build or machine cannot run it
  gloo,       // Gloo, the CUDA tensors staged through the CPU (slower; for debugging and comparison)
};

struct ProcessGroupOptions {
  // The rendezvous and every collective; CMBENCH_DIST_TIMEOUT (seconds) overrides the default.
  std::chrono::milliseconds timeout{std::chrono::minutes(10)};
  CudaCollectives cuda = CudaCollectives::automatic;
};

class ProcessGroup {
 public:
  virtual ~ProcessGroup() = default;
  virtual int64_t rank() const = 0;
  virtual int64_t size() const = 0;
  bool is_root() const { return rank() == 0; }
  // In place, on a tensor of any device (NCCL runs CUDA tensors where it is on; Gloo stages them
  // through the CPU).
  virtual void broadcast_from_root(torch::Tensor& tensor) = 0;
  virtual void all_reduce_sum(torch::Tensor& tensor) = 0;
  // Every rank's `local` (the same shape on every rank), in rank order.
  virtual std::vector<torch::Tensor> all_gather(const torch::Tensor& local) = 0;
  virtual void barrier() = 0;
  virtual std::string describe() const = 0;  // "rank 1 of 2"
  virtual std::string backend() const = 0;   // "single process", "gloo", "gloo+nccl"
};

// The group of a run that is one process: every collective is the identity.
std::shared_ptr<ProcessGroup> single_process();

// Whether this build has c10d's Gloo backend (libgloo-dev at configure time), and its NCCL one (a
// CUDA LibTorch and nccl.h: Debian's libnccl-dev, pip's nvidia-nccl-cu12).
bool multi_process_available();
bool nccl_available();

// The group of the launch environment: single_process() for one rank, else a Gloo group that meets
// at env.master_addr:env.port (rank 0 serves the TCPStore). InputError naming the address when the
// rendezvous is not reached within the timeout, or when this build has no multi-process support.
std::shared_ptr<ProcessGroup> open_process_group(const LaunchEnv& env, ProcessGroupOptions options = {});

// ProcessGroupOptions with CMBENCH_DIST_TIMEOUT and CMBENCH_DIST_BACKEND applied (InputError naming the
// variable when a value is malformed).
ProcessGroupOptions process_group_options_from_env(const EnvLookup& env = process_env);

// Every rank's rows (any count per rank; the same trailing shape and dtype) concatenated along dim 0
// in rank order, on every rank.
torch::Tensor all_gather_rows(ProcessGroup& group, const torch::Tensor& local);

// Sharded evaluation: batch k (rows [k * batch, min((k + 1) * batch, total)) of a seed range) belongs
// to rank k mod W. Each rank computes exactly the batches a single process would, so its images are
// bit-identical to the one-process run's.
inline bool owns_batch(const ProcessGroup& group, int64_t batch_index) { return batch_index % group.size() == group.rank(); }

// The rows of every rank's owned batches (`local`: this rank's, in batch order) back in row order
// (0..total-1), on every rank.
torch::Tensor gather_batches(ProcessGroup& group, const torch::Tensor& local, int64_t total, int64_t batch);

// Data-parallel gradient averaging (as torch's DistributedDataParallel): the gradients, in parameter
// order, flattened into buckets of at most `bucket_bytes` (one dtype and device each), summed across
// ranks, divided by the world size and copied back. Parameters without a gradient count as zeros.
void average_gradients(ProcessGroup& group, const std::vector<torch::Tensor>& params, int64_t bucket_bytes = 25 << 20);

// Rank 0's values of `tensors` copied into every rank's (in place), bucketed like average_gradients.
void broadcast_tensors(ProcessGroup& group, const std::vector<torch::Tensor>& tensors, int64_t bucket_bytes = 25 << 20);

// The mean of a scalar over the ranks (a step's loss for the training log).
double mean_over_ranks(ProcessGroup& group, double value);

}  // namespace cmbench
