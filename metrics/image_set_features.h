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
#include "metrics/metric.h"

namespace cmbench {

// True when one of `features` needs the Inception detector.
bool needs_detector(const std::set<Feature>& features);

// Features of the images at `indices`. `detector` may be null when no feature needs it. With a
// `group` of several ranks the Inception batches are shared out (extract_features) and every rank
// gets the one-process features; every rank must call it.
ImageSetFeatures image_set_features(const ImageSource& source, const std::vector<int64_t>& indices,
                                    const std::set<Feature>& features, InceptionDetector* detector, int64_t batch,
                                    ProcessGroup* group = nullptr);

// A statistics .npz (mu, sigma) as the pool3 statistics of a set; InputError naming the file when
// another feature is asked for. Warns when the file says n < 2048.
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
