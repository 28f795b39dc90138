// `cmbench report` (results/report_html.h, results/svg_plot.h): the page's content, its stability,
// and the page loaded offline in a real browser (Debian's chromium, headless): its DOM holds every
// plot, table row, finding and grid; a screenshot is not blank; the console stays quiet.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/png.h"
#include "results/report_html.h"
#include "results/store.h"
#include "results/svg_plot.h"
#include "test_results_fixture.h"
#include "test_util.h"

using namespace cmbench;
using namespace cmbench::results;

namespace {

size_t count_matches(const std::string& text, const std::string& pattern) {
  const std::regex re(pattern);
  return static_cast<size_t>(std::distance(std::sregex_iterator(text.begin(), text.end(), re), std::sregex_iterator()));
}

// A 16x16 RGB PNG in one hue per stage (the grids of the page).
std::vector<uint8_t> grid_png(int hue) {
  std::vector<uint8_t> pixels(16 * 16 * 3);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>((i * 7 + static_cast<size_t>(hue) * 80) % 256);
  return encode_png(pixels.data(), 16, 16, 3);
}

// The study fixture: stages ect, sct and ct at batch 8, evaluated at steps 10..40 with swd at NFE 1
// and 2 and cerr at NFE 1 (curves); ect and sct also with tvar_t0..5 and tbias_t0..5 at NFE 0 at the
// last step; two grids per stage. Suite findings: one passes, one fails, one is not evaluable.
struct StudyStore {
  static constexpr int kStages = 3, kGridsPerStage = 2;
  // Charts: per (metric, NFE) against images: swd@1, swd@2, cerr@1, tvar_t0..5, tbias_t0..5 (15);
  // against NFE: swd (1); per noise level: tvar, tbias (2); one loss curve per stage (3).
  static constexpr int kImageCharts = 15, kNfeCharts = 1, kBucketCharts = 2,
                       kPlots = kImageCharts + kNfeCharts + kBucketCharts + kStages;
  // Results rows: ect and sct at NFE 0, 1, 2; ct at NFE 1, 2.
  static constexpr int kResultRows = 8;

  StoreContents contents;

  StudyStore() {
    const std::vector<std::string> stages = {"ect", "sct", "ct"};
    for (size_t s = 0; s < stages.size(); ++s) {
      auto run = test::sample_run("study", stages[s], stages[s]);
      run.config_json = R"({"train":{"batch":8,"steps":40}})";
      run.images_seen = 320;
      run.evaluations.clear();
      const double speed = 1.0 + static_cast<double>(s);  // ect fastest
      for (int64_t step = 10; step <= 40; step += 10) {
        for (int64_t nfe : {1, 2}) {
          auto row = test::evaluation_row(nfe, "swd", speed * 100.0 / static_cast<double>(step * nfe), 64, "0-63",
                                          "gmm:m.npz", "");
          row.step = step;
          run.evaluations.push_back(row);
        }
        auto cerr = test::evaluation_row(1, "cerr", speed * 0.1 * 40.0 / static_cast<double>(step), 384, "probes",
                                         "gmm:m.npz", "");
        cerr.step = step;
        run.evaluations.push_back(cerr);
      }
      if (stages[s] != "ct") {
        for (int k = 0; k < 6; ++k) {
          for (const char* family : {"tvar", "tbias"}) {
            auto row = test::evaluation_row(0, std::string(family) + "_t" + std::to_string(k),
                                            speed * 0.01 * (k + 1) * (k + 1), 64, "probes", "gmm:m.npz", "");
            row.step = 40;
            run.evaluations.push_back(row);
          }
        }
      }
      run.grids = {{1, grid_png(static_cast<int>(s))}, {2, grid_png(static_cast<int>(s) + 3)}};
      contents.runs.push_back(run);
    }
    SuiteRecord suite;
    suite.name = "study";
    suite.dataset = "gmm:m.npz";
    suite.metrics = {{"swd", "lower", 0.1, 0, "mean"}, {"cerr", "lower", 0, 0, "mean"}};
    FindingSpec below{"ect-below", "ECT's SWD is below SCT's", "below", {"ect", "sct"}, {}, {"swd"}, {1}, 0, 0, "",
                      "a note on why"};
    FindingSpec fails{"ct-below", "CT's SWD is below ECT's", "below", {"ct", "ect"}, {}, {"swd"}, {1}, 0, 0, "", ""};
    FindingSpec missing{"ict", "iCT's SWD is below ECT's", "below", {"ict", "ect"}, {}, {"swd"}, {1}, 0, 0, "", ""};
    suite.findings = {below, fails, missing};
    contents.suites.push_back(suite);
  }

  ReportInput input() const {
    ReportInput in;
    in.tables.stores = {contents};
    in.tables.store_names = {"study.h5"};
    in.findings = evaluate_store_findings(in.tables.stores);
    return in;
  }

  std::string write(const test::TempDir& dir) const {
    const auto path = dir.file("study.h5");
    for (const auto& run : contents.runs) append_run(path, run);
    put_suite(path, contents.suites[0]);
    return path;
  }
};

// The rows of <table class="results">.
size_t result_rows(const std::string& page) {
  const auto start = page.find("<table class=\"results\">");
  const auto end = page.find("</table>", start);
  if (start == std::string::npos || end == std::string::npos) return 0;
  return count_matches(page.substr(start, end - start), "<tr>") - 1;  // less the header row
}

}  // namespace

TEST(SvgPlot, AxesTicksLegendAndScales) {
  LineChart chart;
  chart.title = "swd <at> NFE 1";
  chart.x_label = "training images seen";
  chart.y_label = "swd";
  chart.metric = "swd";
  chart.kind = "images";
  chart.attributes = {{"nfe", "1"}};
  chart.series = {{"ect", {{0, 0.1}, {500, 0.5}, {1000, 1.0}}}, {"sct & co", {{0, 0.2}, {1000, 0.3}}}};
  auto svg = line_chart_svg(chart);
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot\" data-metric=\"swd\" data-kind=\"images\" "
                      "data-nfe=\"1\"",
                      0),
            0u)
      << svg;
  EXPECT_NE(svg.find(">swd &lt;at&gt; NFE 1</text>"), std::string::npos);  // title, escaped
  EXPECT_NE(svg.find(">sct &amp; co</text>"), std::string::npos);           // legend
  EXPECT_EQ(count_matches(svg, "<polyline"), 2u);
  EXPECT_EQ(count_matches(svg, "<circle"), 5u);
  EXPECT_NE(svg.find("stroke=\"#1f77b4\""), std::string::npos);
  EXPECT_NE(svg.find("stroke=\"#ff7f0e\""), std::string::npos);
  // Linear y from 0 to 1 in steps of 0.2 (values span 10x: not more, so no log scale).
  for (const char* tick : {">0</text>", ">0.2</text>", ">0.4</text>", ">0.6</text>", ">0.8</text>", ">1</text>"}) {
    EXPECT_NE(svg.find(tick), std::string::npos) << tick;
  }
  EXPECT_EQ(svg.find("(log scale)"), std::string::npos);
  // Values over more than 10x: log y with decade ticks; images in thousands.
  chart.series = {{"ect", {{1000, 0.002}, {20000, 80}}}};
  svg = line_chart_svg(chart);
  EXPECT_NE(svg.find(">swd (log scale)</text>"), std::string::npos);
  for (const char* tick : {">0.001</text>", ">0.01</text>", ">0.1</text>", ">1</text>", ">10</text>", ">100</text>",
                           ">20k</text>"}) {
    EXPECT_NE(svg.find(tick), std::string::npos) << tick;
  }
  // A non-positive value keeps the axis linear; NaN points are left out.
  chart.series = {{"ect", {{0, 0.0}, {1, 100}, {2, std::nan("")}}}};
  svg = line_chart_svg(chart);
  EXPECT_EQ(svg.find("(log scale)"), std::string::npos);
  EXPECT_EQ(count_matches(svg, "<circle"), 2u);
  EXPECT_EQ(svg.find("nan"), std::string::npos);
  chart.series.clear();
  EXPECT_NE(line_chart_svg(chart).find("no values to plot"), std::string::npos);
}

TEST(Report, HoldsEveryPartAndNothingExternal) {
  const StudyStore study;
  const auto page = render_report(study.input());
  EXPECT_EQ(page.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(count_matches(page, "<svg [^>]*class=\"plot\""), static_cast<size_t>(StudyStore::kPlots));
  EXPECT_EQ(count_matches(page, "<svg [^>]*data-kind=\"images\""), static_cast<size_t>(StudyStore::kImageCharts));
  EXPECT_EQ(count_matches(page, "<svg [^>]*data-kind=\"nfe\""), static_cast<size_t>(StudyStore::kNfeCharts));
  EXPECT_EQ(count_matches(page, "<svg [^>]*data-metric=\"tvar\" data-kind=\"t\""), 1u);
  EXPECT_EQ(count_matches(page, "<svg [^>]*data-metric=\"tbias\" data-kind=\"t\""), 1u);
  EXPECT_EQ(count_matches(page, "<svg [^>]*data-metric=\"loss\""), static_cast<size_t>(StudyStore::kStages));
  EXPECT_EQ(result_rows(page), static_cast<size_t>(StudyStore::kResultRows));
  EXPECT_EQ(count_matches(page, "<div class=\"finding\" data-status=\"pass\" data-id=\"ect-below\">"), 1u);
  EXPECT_EQ(count_matches(page, "<div class=\"finding\" data-status=\"fail\" data-id=\"ct-below\">"), 1u);
  EXPECT_EQ(count_matches(page, "<div class=\"finding\" data-status=\"n/a\" data-id=\"ict\">"), 1u);
  EXPECT_NE(page.find("Not evaluable: stage &#39;ict&#39; has no run"), std::string::npos);
  EXPECT_NE(page.find("<div class=\"verdict\">swd: ect 2.5 &lt; sct 5</div>"), std::string::npos);
  EXPECT_NE(page.find("<div class=\"why\">a note on why</div>"), std::string::npos);
  EXPECT_EQ(count_matches(page, "<img [^>]*src=\"data:image/png;base64,"),
            static_cast<size_t>(StudyStore::kStages * StudyStore::kGridsPerStage));
  EXPECT_NE(page.find("cmbench 0.1.0-test; LibTorch 1.13.1; device cpu (2 threads)."), std::string::npos);
  // The per-noise-level x positions: sqrt(0.002 * 0.02) is at the bucket's geometric centre.
  EXPECT_NE(page.find("Buckets of t: [0.002, 0.02), [0.02, 0.1), [0.1, 0.5), [0.5, 2), [2, 10), [10, 80)"),
            std::string::npos);
  // Self-contained: no resource outside the page, no script.
  EXPECT_EQ(count_matches(page, "(src|href)=\"(?!data:)"), 0u);
  EXPECT_EQ(count_matches(page, "https?://(?!www\\.w3\\.org/2000/svg\")"), 0u);
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_EQ(page.find("url("), std::string::npos);
  EXPECT_EQ(page.find("@import"), std::string::npos);
}

TEST(Report, TitleAndDescriptionAndSameBytesEachTime) {
  const StudyStore study;
  auto input = study.input();
  const auto page = render_report(input);
  EXPECT_NE(page.find("<title>cmbench report: study</title>"), std::string::npos);
  EXPECT_EQ(page, render_report(study.input()));
  input.title = "A <study>";
  input.description = "Ground truth & more";
  const auto titled = render_report(input);
  EXPECT_NE(titled.find("<h1>A &lt;study&gt;</h1>"), std::string::npos);
  EXPECT_NE(titled.find("<p class=\"description\">Ground truth &amp; more</p>"), std::string::npos);
  input.findings.clear();
  EXPECT_NE(render_report(input).find("<p>The suite states no findings.</p>"), std::string::npos);
}

TEST(ReportCli, WritesTheSamePageFromTheStore) {
  test::TempDir dir;
  const StudyStore study;
  const auto store = study.write(dir);
  const auto out = dir.file("report.html");
  auto r = test::run_cli({"report", store, "--out", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(out + ": report of " + store), std::string::npos) << r.out;
  const auto page = test::read_text(out);
  auto input = study.input();
  input.tables.store_names = {store};
  EXPECT_EQ(page, render_report(input));
  ASSERT_EQ(test::run_cli({"report", store, "--out", dir.file("again.html")}).exit_code, 0);
  EXPECT_EQ(test::read_text(dir.file("again.html")), page);
  r = test::run_cli({"report", store, "--out", dir.file("t.html"), "--title", "Mine"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(test::read_text(dir.file("t.html")).find("<h1>Mine</h1>"), std::string::npos);
}

namespace {

const char* const kChromium = "/usr/bin/chromium";

// Debian's chromium, headless and offline: every request goes to a proxy nobody listens on.
struct Browser {
  test::TempDir dir;
  int runs = 0;

  struct Result {
    int exit_code = -1;
    std::string out, err;
  };

  Result run(const std::string& page, const std::string& action) {
    const auto out = dir.file(std::to_string(runs) + ".out"), err = dir.file(std::to_string(runs) + ".err");
    const auto profile = dir.file(std::to_string(runs) + ".profile");
    ++runs;
    const std::string command = "( timeout 120 " + std::string(kChromium) +
                                " --headless --no-sandbox --disable-gpu --disable-extensions --no-first-run"
                                " --proxy-server=127.0.0.1:9 --enable-logging=stderr --v=0 --user-data-dir=" +
                                test::shell_quoted(profile) + " " + action + " " +
                                test::shell_quoted("file://" + std::filesystem::absolute(page).string()) + " >" +
                                test::shell_quoted(out) + " 2>" + test::shell_quoted(err) + " )";
    Result result;
    result.exit_code = test::run_shell(command).exit_code;
    result.out = test::read_text(out);
    result.err = test::read_text(err);
    return result;
  }
};

// Lines of chromium's log that report the page's console or an uncaught exception (at --v=0 every
// console message of a page is logged as "INFO:CONSOLE(...)" or "INFO:CONSOLE:N]" with its source).
std::vector<std::string> console_lines(const std::string& log) {
  std::vector<std::string> out;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (line.find(":CONSOLE") != std::string::npos || line.find("Uncaught") != std::string::npos) out.push_back(line);
  }
  return out;
}

std::string report_in(const test::TempDir& dir, const StudyStore& study) {
  const auto page = dir.file("report.html");
  const auto r = test::run_cli({"report", study.write(dir), "--out", page});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return page;
}

#define SKIP_WITHOUT_CHROMIUM()                                                                        \
  if (!std::filesystem::exists(kChromium)) GTEST_SKIP() << "no " << kChromium << ": install chromium " \
                                                        << "(scripts/install-deps)"

}  // namespace

// The DOM chromium built from the page: every plot, results row, finding (with its status) and grid.
TEST(ReportBrowser, DomHoldsEveryPlotRowFindingAndGrid) {
  SKIP_WITHOUT_CHROMIUM();
  test::TempDir dir;
  const StudyStore study;
  Browser browser;
  const auto r = browser.run(report_in(dir, study), "--dump-dom");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto& dom = r.out;
  ASSERT_NE(dom.find("</html>"), std::string::npos) << dom.substr(0, 2000);
  EXPECT_EQ(count_matches(dom, "<svg [^>]*class=\"plot\""), static_cast<size_t>(StudyStore::kPlots));
  EXPECT_EQ(count_matches(dom, "<svg [^>]*data-metric=\"tvar\""), 1u);
  EXPECT_EQ(count_matches(dom, "<polyline "), count_matches(test::read_text(dir.file("report.html")), "<polyline "));
  EXPECT_EQ(result_rows(dom), static_cast<size_t>(StudyStore::kResultRows));
  EXPECT_EQ(count_matches(dom, "class=\"finding\" data-status=\"pass\""), 1u);
  EXPECT_EQ(count_matches(dom, "class=\"finding\" data-status=\"fail\""), 1u);
  EXPECT_EQ(count_matches(dom, "class=\"finding\" data-status=\"n/a\""), 1u);
  EXPECT_EQ(count_matches(dom, "<img [^>]*src=\"data:image/png;base64,"),
            static_cast<size_t>(StudyStore::kStages * StudyStore::kGridsPerStage));
}

// The rendered page: not blank, the findings' badges and the first series' colours drawn.
TEST(ReportBrowser, ScreenshotIsNotBlank) {
  SKIP_WITHOUT_CHROMIUM();
  test::TempDir dir;
  const StudyStore study;
  Browser browser;
  const auto shot = dir.file("shot.png");
  const auto r = browser.run(report_in(dir, study), "--screenshot=" + test::shell_quoted(shot) + " --window-size=1200,3000");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto bytes = read_file_bytes(shot);
  const auto header = parse_png_header(bytes.data(), bytes.size(), shot);
  ASSERT_EQ(header.width, 1200);
  ASSERT_EQ(header.height, 3000);
  ASSERT_EQ(header.channels, 3);
  std::vector<uint8_t> pixels(static_cast<size_t>(header.width * header.height * 3));
  decode_png(bytes.data(), bytes.size(), header, pixels.data(), shot);
  std::set<uint32_t> colours;
  size_t not_white = 0;
  for (size_t i = 0; i < pixels.size(); i += 3) {
    const uint32_t rgb = (uint32_t{pixels[i]} << 16) | (uint32_t{pixels[i + 1]} << 8) | pixels[i + 2];
    colours.insert(rgb);
    not_white += rgb != 0xffffff;
  }
  EXPECT_GT(colours.size(), 100u);
  EXPECT_GT(not_white, pixels.size() / 3 / 20);  // more than 5% of the page is drawn on
  for (const uint32_t expected : {0x2a8f3cu, 0xc62828u, 0x1f77b4u, 0xff7f0eu, 0x2ca02cu}) {
    EXPECT_TRUE(colours.count(expected)) << std::hex << expected;  // pass and fail badges, three series
  }
}

// No console message and no uncaught exception while the page loads; a page that logs an error
// and throws shows that the check sees both.
TEST(ReportBrowser, ConsoleStaysQuiet) {
  SKIP_WITHOUT_CHROMIUM();
  test::TempDir dir;
  const StudyStore study;
  Browser browser;
  auto r = browser.run(report_in(dir, study), "--dump-dom");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(console_lines(r.err).empty()) << console_lines(r.err).front();

  const auto noisy = dir.file("noisy.html");
  test::write_text(noisy, "<!DOCTYPE html><html><body><p>x</p><script>console.error('deliberate');"
                          "no_such_function();</script></body></html>");
  r = browser.run(noisy, "--dump-dom");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto lines = console_lines(r.err);
  ASSERT_EQ(lines.size(), 2u) << r.err;
  EXPECT_NE(lines[0].find("deliberate"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("Uncaught ReferenceError: no_such_function is not defined"), std::string::npos) << lines[1];
}
