#!/usr/bin/env bash
# The test command behind `make test`. PostgreSQL when DATABASE_URL is set, SQLite otherwise.
# Browser tests run when Debian's Chromium is installed; the Redis integration tests when
# WEIFEI_TEST_REDIS_URL is set. Each omission is said plainly, never hidden.
set -uo pipefail
cd "$(dirname "$0")/.."

CHROMIUM="${WEIFEI_CHROMIUM:-/usr/bin/chromium}"
markers=()
if [ -x "$CHROMIUM" ]; then
  echo "浏览器测试：使用 $CHROMIUM"
else
  echo "浏览器测试：未找到 Chromium（$CHROMIUM），本次不运行浏览器测试。安装：apt-get install chromium"
  markers+=("not browser")
fi
if [ -n "${WEIFEI_TEST_REDIS_URL:-}" ]; then
  echo "Redis 集成测试：$WEIFEI_TEST_REDIS_URL"
else
  echo "Redis 集成测试：未设置 WEIFEI_TEST_REDIS_URL，本次不运行。"
  markers+=("not redis")
fi
if [ -n "${DATABASE_URL:-}" ]; then
  echo "数据库：${DATABASE_URL%%@*}@…（测试库由 pytest-django 新建）"
else
  echo "数据库：SQLite（内存）"
fi

args=()
if [ ${#markers[@]} -gt 0 ]; then
  expr="${markers[0]}"
  for m in "${markers[@]:1}"; do expr="$expr and $m"; done
  args+=(-m "$expr")
fi

.venv/bin/pytest "${args[@]}" "$@"
status=$?
if [ "$status" -eq 5 ]; then
  echo "pytest: 没有收集到测试（exit 5）——视为失败，测试集不应为空。"
  exit 1
fi
exit "$status"
