#include "api/static_files.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "support/test_util.h"

namespace parley::api {
namespace {

namespace fs = std::filesystem;

void Write(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
}

class StaticFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::path(dir_.path()) / "web";
    Write(root_ / "index.html", "<!doctype html>home");
    Write(root_ / "app.js", "console.log(1)");
    Write(root_ / "mod.MJS", "export {}");
    Write(root_ / "style.css", "body{}");
    Write(root_ / "img" / "logo.svg", "<svg/>");
    Write(root_ / "docs" / "index.html", "docs");
    Write(root_ / ".secret", "hidden");
    Write(root_ / ".git" / "config", "hidden");
    Write(fs::path(dir_.path()) / "outside.txt", "outside");
    fs::create_symlink(fs::path(dir_.path()) / "outside.txt", root_ / "link.txt");
    fs::create_directory_symlink(fs::path(dir_.path()), root_ / "up");
    StatusOr<StaticFiles> loaded = StaticFiles::Load(root_.string());
    ASSERT_OK(loaded.status());
    files_ = std::move(*loaded);
  }

  testing::TempDir dir_;
  fs::path root_;
  StaticFiles files_;
};

TEST_F(StaticFilesTest, LoadsRegularFilesOnly) {
  EXPECT_EQ(files_.size(), 6u);  // no dot-files, nothing through links leaving the root
}

TEST_F(StaticFilesTest, RootAndDirectoriesServeIndex) {
  const StaticFile* f = files_.Find({});
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->body, "<!doctype html>home");
  EXPECT_EQ(f->content_type, "text/html; charset=utf-8");
  f = files_.Find({"docs", ""});
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->body, "docs");
  EXPECT_EQ(files_.Find({"docs"}), nullptr);
}

TEST_F(StaticFilesTest, FindsNestedFiles) {
  const StaticFile* f = files_.Find({"img", "logo.svg"});
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->content_type, "image/svg+xml");
  EXPECT_EQ(files_.Find({"img", "nope.svg"}), nullptr);
  EXPECT_EQ(files_.Find({"mod.MJS"})->content_type, "text/javascript; charset=utf-8");
}

TEST_F(StaticFilesTest, RefusesTraversalAndHiddenNames) {
  EXPECT_EQ(files_.Find({".."}), nullptr);
  EXPECT_EQ(files_.Find({"..", "outside.txt"}), nullptr);
  EXPECT_EQ(files_.Find({"img", "..", "app.js"}), nullptr);
  EXPECT_EQ(files_.Find({".", "app.js"}), nullptr);
  EXPECT_EQ(files_.Find({"img/../app.js"}), nullptr);
  EXPECT_EQ(files_.Find({"..\\app.js"}), nullptr);
  EXPECT_EQ(files_.Find({".secret"}), nullptr);
  EXPECT_EQ(files_.Find({".git", "config"}), nullptr);
  EXPECT_EQ(files_.Find({"link.txt"}), nullptr);
  EXPECT_EQ(files_.Find({"up", "outside.txt"}), nullptr);
  EXPECT_EQ(files_.Find({"", "app.js"}), nullptr);
  EXPECT_EQ(files_.Find({std::string("app.js\0", 7)}), nullptr);
  EXPECT_NE(files_.Find({"app.js"}), nullptr);
}

TEST_F(StaticFilesTest, StrongEtagFollowsContent) {
  const StaticFile* js = files_.Find({"app.js"});
  const StaticFile* css = files_.Find({"style.css"});
  ASSERT_NE(js, nullptr);
  ASSERT_NE(css, nullptr);
  EXPECT_EQ(js->etag.front(), '"');
  EXPECT_EQ(js->etag.back(), '"');
  EXPECT_NE(js->etag, css->etag);
  Write(root_ / "app.js", "console.log(2)");
  StaticFiles reloaded = std::move(StaticFiles::Load(root_.string())).value();
  EXPECT_NE(reloaded.Find({"app.js"})->etag, js->etag);
  StaticFiles again = std::move(StaticFiles::Load(root_.string())).value();
  EXPECT_EQ(again.Find({"app.js"})->etag, reloaded.Find({"app.js"})->etag);
}

TEST(StaticFilesStaticTest, ContentTypes) {
  EXPECT_EQ(StaticFiles::ContentTypeFor("a.html"), "text/html; charset=utf-8");
  EXPECT_EQ(StaticFiles::ContentTypeFor("a.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(StaticFiles::ContentTypeFor("a.mjs"), "text/javascript; charset=utf-8");
  EXPECT_EQ(StaticFiles::ContentTypeFor("a.css"), "text/css; charset=utf-8");
  EXPECT_EQ(StaticFiles::ContentTypeFor("a.svg"), "image/svg+xml");
  EXPECT_EQ(StaticFiles::ContentTypeFor("a.png"), "image/png");
  EXPECT_EQ(StaticFiles::ContentTypeFor("favicon.ico"), "image/x-icon");
  EXPECT_EQ(StaticFiles::ContentTypeFor("a.json"), "application/json");
  EXPECT_EQ(StaticFiles::ContentTypeFor("site.webmanifest"), "application/manifest+json");
  EXPECT_EQ(StaticFiles::ContentTypeFor("f.woff2"), "font/woff2");
  EXPECT_EQ(StaticFiles::ContentTypeFor("INDEX.HTML"), "text/html; charset=utf-8");
  EXPECT_EQ(StaticFiles::ContentTypeFor("noext"), "application/octet-stream");
  EXPECT_EQ(StaticFiles::ContentTypeFor("a.jsx"), "application/octet-stream");
}

TEST(StaticFilesStaticTest, IfNoneMatch) {
  const std::string etag = "\"abc-1\"";
  EXPECT_TRUE(StaticFiles::EtagMatches("\"abc-1\"", etag));
  EXPECT_TRUE(StaticFiles::EtagMatches("W/\"abc-1\"", etag));
  EXPECT_TRUE(StaticFiles::EtagMatches("\"x\", \"abc-1\"", etag));
  EXPECT_TRUE(StaticFiles::EtagMatches("*", etag));
  EXPECT_FALSE(StaticFiles::EtagMatches("\"abc-2\"", etag));
  EXPECT_FALSE(StaticFiles::EtagMatches("abc-1", etag));
  EXPECT_FALSE(StaticFiles::EtagMatches("", etag));
}

TEST(StaticFilesStaticTest, MissingRootIsAnError) {
  EXPECT_FALSE(StaticFiles::Load("/nonexistent/parley-web").ok());
  StaticFiles none;
  EXPECT_EQ(none.Find({}), nullptr);
}

}  // namespace
}  // namespace parley::api
