// The features metrics read, computed once per image set: the pixels read once, and one Inception
// pass that streams pool3 into float64 statistics (50k features never sit in memory) and keeps the
// unbiased logits, as the metrics of the set need.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "core/process_group.h"
#include "data/image_source.h"
#include "metrics/detector.h"
#include "metrics/dinov2_detector.h"
#include "metrics/metric.h"

namespace cmbench {

class Vgg16Detector;  // metrics/vgg16_detector.h

// True when one of `features` needs the Inception detector.
bool needs_detector(const std::set<Feature>& features);
bool needs_dinov2(const std::set<Feature>& features);
bool needs_vgg16(const std::set<Feature>& features);

// The feature networks an image set may be run through; one that no asked-for feature needs may be null.
struct FeatureNetworks {
  InceptionDetector* inception = nullptr;
  Dinov2Detector* dinov2 = nullptr;
  Vgg16Detector* vgg16 = nullptr;
};

// Features of the images at `indices`: one pass per network (Inception's pass yields pool3, logits
// and the sFID features together); statistics with `ddof` (1, or StyleGAN3's 0). With a `group` of
// several ranks the batches are shared out (extract_batches) and every rank gets the one-process
// features; every rank must call it.
ImageSetFeatures image_set_features(const ImageSource& source, const std::vector<int64_t>& indices,
                                    const std::set<Feature>& features, const FeatureNetworks& networks, int64_t batch,
                                    ProcessGroup* group = nullptr, int ddof = 1);

// The statistics features a statistics .npz can hold, under their keys: pool3 (mu, sigma), sFID's
// spatial (mu_s, sigma_s, as guided-diffusion's reference batches), DINOv2 (mu_dinov2, sigma_dinov2).
struct StatisticsKeys {
  Feature feature;
  const char* mu;
  const char* sigma;
  const char* what;  // for messages
};
const std::vector<StatisticsKeys>& statistics_keys();

// Whether the statistics .npz at `path` holds every one of `features` (all statistics features).
bool statistics_file_holds(const std::string& path, const std::set<Feature>& features);

// A statistics .npz as the statistics features of a set; InputError naming the file when another
// feature is asked for or the file lacks one. Warns when the file says n < 2048.
ImageSetFeatures statistics_file_features(const std::string& path, const std::set<Feature>& features);

// Whether `path` is a features .npz of `cmbench features` (key `features`, N x D float).
bool is_features_file(const std::string& path);

// A features .npz as the pool3 features of a set, and their statistics (ddof 1) where asked for;
// InputError naming the file for another layer (its meta says) or another feature.
ImageSetFeatures features_file_features(const std::string& path, const std::set<Feature>& features);

// A statistics or features file, by what it holds (is_statistics_file, is_features_file).
ImageSetFeatures file_features(const std::string& path, const std::set<Feature>& features);

// The union of the features of `metrics`.
std::set<Feature> features_of(const std::vector<const Metric*>& metrics);

}  // namespace cmbench
