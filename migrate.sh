#!/bin/bash
set -e

# 数据库迁移脚本（部署指南 §4.2）。与 `cargo xtask migrate` 共用 schema_migrations 表，可互换使用。
cd "$(dirname "$0")"

# 配置
DB_HOST=${DB_HOST:-localhost}
DB_PORT=${DB_PORT:-5432}
DB_NAME=${DB_NAME:-ingenio_prod}
DB_USER=${DB_USER:-ingenio_user}

MIGRATION_DIR="./migrations"
MIGRATION_LOG_TABLE="schema_migrations"

echo "开始数据库迁移..."

# 创建迁移日志表
psql -h "$DB_HOST" -p "$DB_PORT" -U "$DB_USER" -d "$DB_NAME" <<EOF
CREATE TABLE IF NOT EXISTS $MIGRATION_LOG_TABLE (
  id SERIAL PRIMARY KEY,
  version VARCHAR(50) NOT NULL UNIQUE,
  executed_at TIMESTAMP DEFAULT NOW(),
  script_name VARCHAR(255) NOT NULL
);
EOF

# 执行所有迁移脚本
for file in $MIGRATION_DIR/*.sql; do
  # 跳过回滚脚本
  if [[ $file =~ \.down\.sql$ ]]; then
    continue
  fi

  filename=$(basename "$file")
  version=$(echo "$filename" | cut -d'_' -f1)

  # 检查是否已执行
  already_executed=$(psql -h "$DB_HOST" -p "$DB_PORT" -U "$DB_USER" -d "$DB_NAME" -tAc \
    "SELECT COUNT(*) FROM $MIGRATION_LOG_TABLE WHERE version = '$version'")

  if [ "$already_executed" -eq 0 ]; then
    echo "执行迁移: $filename"
    psql -h "$DB_HOST" -p "$DB_PORT" -U "$DB_USER" -d "$DB_NAME" -v ON_ERROR_STOP=1 -f "$file"

    # 记录迁移
    psql -h "$DB_HOST" -p "$DB_PORT" -U "$DB_USER" -d "$DB_NAME" -c \
      "INSERT INTO $MIGRATION_LOG_TABLE (version, script_name) VALUES ('$version', '$filename')"

    echo "✅ $filename 迁移成功"
  else
    echo "⏭️  $filename 已执行，跳过"
  fi
done

echo "数据库迁移完成！"
