#!/usr/bin/env bash
# The test command behind `make test`. PostgreSQL when DATABASE_URL is set, SQLite otherwise.
# Browser tests run when Debian's Chromium is installed; the Redis integration tests when
# WEIFEI_TEST_REDIS_URL is set. Each omission is said plainly, never hidden.
set -uo pipefail
cd "$(dirname "$0")/.."

CHROMIUM="${WEIFEI_CHROMIUM:-/usr/bin/chromium}"
# conftest.py deselects the browser and Redis tests when their service is absent.
if [ -x "$CHROMIUM" ]; then
  echo "浏览器测试：使用 $CHROMIUM"
else
  echo "浏览器测试：未找到 Chromium（$CHROMIUM），本次不运行浏览器测试。安装：apt-get install chromium"
fi
if [ -n "${WEIFEI_TEST_REDIS_URL:-}" ]; then
  echo "Redis 集成测试：$WEIFEI_TEST_REDIS_URL"
else
  echo "Redis 集成测试：未设置 WEIFEI_TEST_REDIS_URL，本次不运行。"
fi
if [ -n "${DATABASE_URL:-}" ]; then
  echo "数据库：${DATABASE_URL%%@*}@…（测试库由 pytest-django 新建）"
else
  echo "数据库：SQLite（内存）"
fi

# One test process per core (pytest-xdist), a test module's tests on the same process (module
# fixtures such as the demo province are built once). WEIFEI_TEST_PROCESSES=0 runs in this process.
processes="${WEIFEI_TEST_PROCESSES:-auto}"
echo "测试进程：$processes（WEIFEI_TEST_PROCESSES，0 为单进程）"
if [ "$processes" = "0" ]; then
  .venv/bin/pytest "$@"
else
  .venv/bin/pytest -n "$processes" --dist loadfile "$@"
fi
status=$?
if [ "$status" -eq 5 ]; then
  echo "pytest: 没有收集到测试（exit 5）——视为失败，测试集不应为空。"
  exit 1
fi
exit "$status"
