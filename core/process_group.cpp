#include "core/process_group.h"

#include <cmath>

#include <fmt/format.h>

#include "core/error.h"

namespace cmbench {

namespace {

class SingleProcess final : public ProcessGroup {
 public:
  int64_t rank() const override { return 0; }
  int64_t size() const override { return 1; }
  void broadcast_from_root(torch::Tensor&) override {}
  void all_reduce_sum(torch::Tensor&) override {}
  std::vector<torch::Tensor> all_gather(const torch::Tensor& local) override { return {local}; }
  void barrier() override {}
  std::string describe() const override { return "rank 0 of 1"; }
  std::string backend() const override { return "single process"; }
};

// Consecutive tensors of one dtype and device, at most `bucket_bytes` together (a single larger
// tensor is a bucket of its own), flattened into one buffer for `collective` and copied back.
template <class Collective>
void bucketed(const std::vector<torch::Tensor>& tensors, int64_t bucket_bytes, Collective collective) {
  size_t begin = 0;
  while (begin < tensors.size()) {
    size_t end = begin + 1;
    int64_t bytes = tensors[begin].numel() * static_cast<int64_t>(tensors[begin].element_size());
    while (end < tensors.size() && tensors[end].scalar_type() == tensors[begin].scalar_type() &&
           tensors[end].device() == tensors[begin].device()) {
      const int64_t more = tensors[end].numel() * static_cast<int64_t>(tensors[end].element_size());
      if (bytes + more > bucket_bytes) break;
      bytes += more;
      ++end;
    }
    std::vector<torch::Tensor> flat;
    for (size_t i = begin; i < end; ++i) flat.push_back(tensors[i].reshape({-1}));
    auto buffer = torch::cat(flat);
    collective(buffer);
    int64_t offset = 0;
    for (size_t i = begin; i < end; ++i) {
      const int64_t n = tensors[i].numel();
      tensors[i].copy_(buffer.narrow(0, offset, n).view_as(tensors[i]));
      offset += n;
    }
    begin = end;
  }
}

}  // namespace

std::shared_ptr<ProcessGroup> single_process() { return std::make_shared<SingleProcess>(); }

ProcessGroupOptions process_group_options_from_env(const EnvLookup& env) {
  ProcessGroupOptions options;
  if (const auto seconds = seconds_variable(env, "CMBENCH_DIST_TIMEOUT", /*zero_allowed=*/false))
    options.timeout = std::chrono::milliseconds(static_cast<int64_t>(std::ceil(*seconds * 1000)));
  if (const auto backend = env("CMBENCH_DIST_BACKEND")) {
    if (*backend == "auto") options.cuda = CudaCollectives::automatic;
    else if (*backend == "nccl") options.cuda = CudaCollectives::nccl;
    else if (*backend == "gloo") options.cuda = CudaCollectives::gloo;
    else throw InputError(fmt::format("environment: CMBENCH_DIST_BACKEND='{}' is not auto, nccl or gloo", *backend));
  }
  return options;
}

torch::Tensor all_gather_rows(ProcessGroup& group, const torch::Tensor& local) {
  if (group.size() == 1) return local;
  const auto counts = group.all_gather(torch::tensor({local.size(0)}, torch::kInt64));
  int64_t most = 0;
  for (const auto& c : counts) most = std::max(most, c.item<int64_t>());
  auto padded = local;
  if (local.size(0) < most) {
    auto shape = local.sizes().vec();
    shape[0] = most - local.size(0);
    padded = torch::cat({local, torch::zeros(shape, local.options())});
  }
  const auto parts = group.all_gather(padded.contiguous());
  std::vector<torch::Tensor> rows;
  for (size_t r = 0; r < parts.size(); ++r) rows.push_back(parts[r].narrow(0, 0, counts[r].item<int64_t>()));
  return torch::cat(rows);
}

torch::Tensor gather_batches(ProcessGroup& group, const torch::Tensor& local, int64_t total, int64_t batch) {
  if (group.size() == 1) return local;
  const int64_t world = group.size(), batches = (total + batch - 1) / batch;
  const auto rows = [&](int64_t k) { return std::min((k + 1) * batch, total) - k * batch; };
  std::vector<int64_t> counts(static_cast<size_t>(world), 0);
  for (int64_t k = 0; k < batches; ++k) counts[static_cast<size_t>(k % world)] += rows(k);
  if (local.size(0) != counts[static_cast<size_t>(group.rank())])
    throw std::logic_error("gather_batches: this rank holds " + std::to_string(local.size(0)) + " rows, its batches " +
                           std::to_string(counts[static_cast<size_t>(group.rank())]));
  const auto all = all_gather_rows(group, local);
  std::vector<int64_t> rank_start(static_cast<size_t>(world), 0), taken(static_cast<size_t>(world), 0);
  for (int64_t r = 1; r < world; ++r) rank_start[static_cast<size_t>(r)] = rank_start[static_cast<size_t>(r - 1)] + counts[static_cast<size_t>(r - 1)];
  std::vector<torch::Tensor> ordered;
  for (int64_t k = 0; k < batches; ++k) {
    const auto r = static_cast<size_t>(k % world);
    ordered.push_back(all.narrow(0, rank_start[r] + taken[r], rows(k)));
    taken[r] += rows(k);
  }
  return torch::cat(ordered);
}

void average_gradients(ProcessGroup& group, const std::vector<torch::Tensor>& params, int64_t bucket_bytes) {
  if (group.size() == 1) return;
  std::vector<torch::Tensor> grads;
  for (auto p : params) {
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    grads.push_back(p.grad());
  }
  const double scale = 1.0 / static_cast<double>(group.size());
  bucketed(grads, bucket_bytes, [&](torch::Tensor& buffer) {
    group.all_reduce_sum(buffer);
    buffer.mul_(scale);
  });
}

void broadcast_tensors(ProcessGroup& group, const std::vector<torch::Tensor>& tensors, int64_t bucket_bytes) {
  if (group.size() == 1) return;
  torch::NoGradGuard no_grad;
  bucketed(tensors, bucket_bytes, [&](torch::Tensor& buffer) {
    group.broadcast_from_root(buffer);
  });
}

double mean_over_ranks(ProcessGroup& group, double value) {
  if (group.size() == 1) return value;
  auto sum = torch::tensor({value}, torch::kFloat64);
  group.all_reduce_sum(sum);
  return sum.item<double>() / static_cast<double>(group.size());
}

}  // namespace cmbench
