#!/bin/bash
set -e

# 数据库回滚脚本（部署指南 §4.3）。与 `cargo xtask rollback` 共用 schema_migrations 表，可互换使用。
cd "$(dirname "$0")"

DB_HOST=${DB_HOST:-localhost}
DB_PORT=${DB_PORT:-5432}
DB_NAME=${DB_NAME:-ingenio_prod}
DB_USER=${DB_USER:-ingenio_user}

ROLLBACK_DIR="./migrations/rollback"
TARGET_VERSION=${1:-}

if [ -z "$TARGET_VERSION" ]; then
  echo "用法: ./rollback.sh <target_version>"
  echo "示例: ./rollback.sh 005"
  exit 1
fi

echo "回滚到版本: $TARGET_VERSION"

# 获取当前版本
current_version=$(psql -h "$DB_HOST" -p "$DB_PORT" -U "$DB_USER" -d "$DB_NAME" -tAc \
  "SELECT MAX(version) FROM schema_migrations")

echo "当前版本: $current_version"

# 依次回滚
for file in $(ls -r $ROLLBACK_DIR/*.down.sql); do
  filename=$(basename "$file")
  version=$(echo "$filename" | cut -d'_' -f1)

  if [ "$version" -gt "$TARGET_VERSION" ] && [ "$version" -le "$current_version" ]; then
    echo "回滚: $filename"
    psql -h "$DB_HOST" -p "$DB_PORT" -U "$DB_USER" -d "$DB_NAME" -v ON_ERROR_STOP=1 -f "$file"

    # 删除迁移记录
    psql -h "$DB_HOST" -p "$DB_PORT" -U "$DB_USER" -d "$DB_NAME" -c \
      "DELETE FROM schema_migrations WHERE version = '$version'"

    echo "✅ $filename 回滚成功"
  fi
done

echo "回滚完成！"
