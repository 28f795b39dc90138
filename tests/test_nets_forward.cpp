// Forward passes of the small presets (and the CIFAR-10, ADM and EDM2-S presets at batch 1): shapes, dtypes,
// determinism of the initialization, sigma == 0, EDM2's forced weight normalization, clones.
#include <gtest/gtest.h>

#include "nets/edm2_unet.h"
#include "nets/edm_layers.h"
#include "nets/factory.h"

namespace cmbench {
namespace {

DenoiserPtr build(const std::string& preset, uint64_t seed = 0) { return make_preset_network(preset, seed); }

torch::Tensor one_hot_labels(int64_t n, int64_t dim) {
  return torch::nn::functional::one_hot(torch::arange(n) % dim, dim).to(torch::kFloat32);
}

void expect_forward_shapes(const std::string& preset, int64_t batch) {
  auto net = build(preset);
  const auto res = net->img_resolution(), ch = net->img_channels();
  const auto x = torch::randn({batch, ch, res, res});
  const auto sigma = torch::linspace(0.5, 20, batch);
  const auto labels = net->label_dim() ? one_hot_labels(batch, net->label_dim()) : torch::Tensor();
  for (bool training : {true, false}) {
    net->train(training);
    torch::NoGradGuard no_grad;
    const auto d = net->forward(x, sigma, labels);
    EXPECT_EQ(d.sizes(), x.sizes()) << preset;
    EXPECT_EQ(d.scalar_type(), torch::kFloat32);
    EXPECT_TRUE(torch::isfinite(d).all().item<bool>()) << preset;
  }
}

// resample_up against EDM's formula: depthwise conv_transpose2d with the tiled filter * 4.
TEST(NetsForward, ResampleUpEqualsDepthwiseConvTranspose) {
  namespace F = torch::nn::functional;
  torch::manual_seed(3);
  for (const auto& taps : {std::vector<double>{1, 1}, std::vector<double>{1, 3, 3, 1}}) {
    const auto f = resample_filter_2d(taps);
    for (int64_t pad : {int64_t{0}, (f.size(-1) - 1) / 2}) {
      const auto x = torch::randn({3, 5, 6, 7}, torch::requires_grad());
      const auto want = F::conv_transpose2d(x, (f * 4).tile({5, 1, 1, 1}),
                                            F::ConvTranspose2dFuncOptions().groups(5).stride(2).padding(pad));
      const auto got = resample_up(x, f, pad, is_box_filter(taps));
      ASSERT_EQ(got.sizes(), want.sizes());
      const auto g = torch::randn_like(want);
      const auto grad_want = torch::autograd::grad({want}, {x}, {g})[0];
      const auto grad_got = torch::autograd::grad({got}, {x}, {g})[0];
      if (is_box_filter(taps) && pad == 0) {
        EXPECT_TRUE(torch::equal(got, want));
      } else {
        EXPECT_TRUE(torch::allclose(got, want, 1e-6, 1e-6)) << taps.size() << " " << pad;
      }
      EXPECT_TRUE(torch::allclose(grad_got, grad_want, 1e-5, 1e-6)) << taps.size() << " " << pad;
    }
  }
}

TEST(NetsForward, SmallPresetsRun) {
  int64_t small = 0;
  for (const auto& preset : preset_names()) {
    if (!preset.ends_with("-tiny") && !preset.ends_with("-small")) continue;
    SCOPED_TRACE(preset);
    expect_forward_shapes(preset, 3);
    ++small;
  }
  EXPECT_GE(small, 5);
}

TEST(NetsForward, Cifar10PresetsRunAtBatchOne) {
  expect_forward_shapes("cifar10-ddpmpp", 1);
  expect_forward_shapes("cifar10-ncsnpp", 1);
}

// The full ImageNet-64 networks at their real size (295.9M and 280.2M parameters), batch 1.
TEST(NetsForward, ImageNetPresetsRunAtBatchOne) {
  expect_forward_shapes("imagenet64-adm", 1);
  expect_forward_shapes("imagenet64-edm2-s", 1);
}

TEST(NetsForward, InitializationIsDeterministicPerSeed) {
  auto a = build("cifar10-ncsnpp-tiny", 7), b = build("cifar10-ncsnpp-tiny", 7), c = build("cifar10-ncsnpp-tiny", 8);
  const auto sa = a->state(), sb = b->state(), sc = c->state();
  ASSERT_EQ(sa.size(), sb.size());
  bool any_differs = false;
  for (size_t i = 0; i < sa.size(); ++i) {
    EXPECT_TRUE(torch::equal(sa[i].second, sb[i].second)) << sa[i].first;
    if (sa[i].second.numel() > 1 && !torch::equal(sa[i].second, sc[i].second)) any_differs = true;
  }
  EXPECT_TRUE(any_differs);
  // Random buffers (Fourier frequencies) come from the seed as well.
  EXPECT_EQ(sa[0].first, "map_noise.freqs");
  EXPECT_FALSE(torch::equal(sa[0].second, sc[0].second));
}

TEST(NetsForward, EdmInitializationScales) {
  // DDPM++ output conv: xavier_uniform * 1e-5; ADM output conv: exactly zero.
  auto ddpm = build("cifar10-ddpmpp-tiny");
  for (const auto& [name, t] : ddpm->state()) {
    if (name == "dec.32x32_aux_conv.weight") { EXPECT_LT(t.abs().max().item<double>(), 1e-5); }
  }
  auto adm = build("imagenet64-adm-tiny");
  for (const auto& [name, t] : adm->state()) {
    if (name == "out_conv.weight") { EXPECT_EQ(t.abs().max().item<double>(), 0.0); }
  }
}

TEST(NetsForward, SigmaZeroReturnsInputAndFloat64Passes) {
  auto net = build("cifar10-ddpmpp-tiny");
  net->eval();
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({2, 3, 32, 32}, torch::kFloat64);
  const auto d = net->forward(x, torch::tensor({0.0, 1.0}, torch::kFloat64));
  EXPECT_EQ(d.scalar_type(), torch::kFloat64);
  EXPECT_TRUE(torch::equal(d[0], x[0]));
  EXPECT_TRUE(torch::isfinite(d).all().item<bool>());
}

TEST(NetsForward, TrainAndEvalPrecondFormsDiffer) {
  PrecondConfig precond;
  precond.eval = {PrecondForm::cm, 0.003};
  Config table;
  table.set("preset=\"cifar10-ddpmpp-tiny\"");
  table.set("dropout=0.0");
  auto net = make_network(table, precond);
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({2, 3, 32, 32});
  const auto sigma = torch::full({2}, 0.003);
  net->eval();
  EXPECT_LT((net->forward(x, sigma) - x).abs().max().item<float>(), 1e-6);  // CM boundary: f(x, eps_b) = x
  net->train();
  EXPECT_GT((net->forward(x, sigma) - x).abs().max().item<float>(), 1e-6);
}

TEST(NetsForward, Edm2ForcedWeightNormalization) {
  auto net = build("imagenet64-edm2-tiny");
  auto weight_of = [&](const std::string& name) {
    for (const auto& [n, t] : net->state())
      if (n == name) return t;
    throw std::runtime_error("no " + name);
  };
  const auto w = weight_of("unet.enc.32x32_block0.conv_res0.weight");
  const auto before = w.clone();
  const auto x = torch::randn({2, 3, 32, 32});
  const auto labels = one_hot_labels(2, 10);
  net->train();
  net->set_forced_weight_norm(false);
  { torch::NoGradGuard g; net->forward(x, torch::ones({2}), labels); }
  EXPECT_TRUE(torch::equal(w, before));
  net->set_forced_weight_norm(true);
  { torch::NoGradGuard g; net->forward(x, torch::ones({2}), labels); }
  const double fan_in = static_cast<double>(w[0].numel());
  const auto norms = w.reshape({w.size(0), -1}).norm(2, 1);
  EXPECT_TRUE(torch::allclose(norms, torch::full_like(norms, std::sqrt(fan_in)), 1e-3));
  auto* edm2 = dynamic_cast<Edm2Network*>(net.get());
  ASSERT_NE(edm2, nullptr);
  EXPECT_EQ(edm2->logvar(torch::zeros({3})).sizes(), (std::vector<int64_t>{3, 1, 1, 1}));
}

TEST(NetsForward, BackwardReachesEveryParameter) {
  auto net = build("cifar10-ddpmpp-tiny");
  net->train();
  const auto x = torch::randn({2, 3, 32, 32});
  net->forward(x, torch::tensor({0.3f, 3.0f})).square().mean().backward();
  for (const auto& p : net->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
  }
}

TEST(NetsForward, CloneReproducesOutputs) {
  // NCSN++: its output layer is not zero-initialized, so the output depends on every weight.
  auto net = build("cifar10-ncsnpp-tiny", 3);
  net->eval();
  auto copy = clone_network(*net);
  EXPECT_FALSE(copy->is_training());
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({2, 3, 32, 32});
  const auto a = net->forward(x, torch::full({2}, 2.0)), b = copy->forward(x, torch::full({2}, 2.0));
  EXPECT_TRUE(torch::equal(a, b));
  auto other = build("cifar10-ncsnpp-tiny", 4);
  other->eval();
  EXPECT_FALSE(torch::equal(a, other->forward(x, torch::full({2}, 2.0))));
}

// Channels-last storage changes the memory layout only: the same outputs (to float32 rounding of
// the different kernels), the same state values, NCHW again when turned off, kept by clones.
TEST(NetsForward, ChannelsLastGivesTheSameOutputs) {
  for (const std::string preset : {"cifar10-ddpmpp-tiny", "imagenet64-adm-tiny", "imagenet64-edm2-tiny"}) {
    auto reference = build(preset, 5);
    auto nhwc = build(preset, 5);
    nhwc->set_channels_last(true);
    ASSERT_TRUE(nhwc->channels_last());
    int64_t converted = 0;
    for (const auto& [name, tensor] : nhwc->state()) {
      if (tensor.dim() != 4) continue;
      EXPECT_TRUE(tensor.is_contiguous(at::MemoryFormat::ChannelsLast)) << preset << " " << name;
      ++converted;
    }
    EXPECT_GT(converted, 0) << preset;
    const auto a = reference->state(), b = nhwc->state();
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i].second, b[i].second)) << a[i].first;

    const auto res = reference->img_resolution();
    const auto x = torch::randn({2, reference->img_channels(), res, res});
    const auto sigma = torch::tensor({0.3, 7.0});
    const auto labels = reference->label_dim() ? one_hot_labels(2, reference->label_dim()) : torch::Tensor();
    reference->eval();
    nhwc->eval();
    torch::NoGradGuard no_grad;
    const auto want = reference->forward(x, sigma, labels);
    const auto got = nhwc->forward(x, sigma, labels);
    EXPECT_TRUE(torch::allclose(got, want, 1e-4, 1e-5)) << preset << ": max |diff| " << (got - want).abs().max();

    const auto copy = clone_network(*nhwc);
    EXPECT_TRUE(copy->channels_last());
    nhwc->set_channels_last(false);
    for (const auto& [name, tensor] : nhwc->state()) EXPECT_TRUE(tensor.is_contiguous()) << name;
  }
}

}  // namespace
}  // namespace cmbench
