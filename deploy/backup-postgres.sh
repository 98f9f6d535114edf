#!/bin/bash
# PostgreSQL backup (deployment guide §7.1): pg_dump | gzip into
# $BACKUP_DIR/${DB_NAME}_YYYYmmdd_HHMMSS.sql.gz, then delete dumps older than RETENTION_DAYS.
#
# Every setting can come from the environment (the guide's .env names):
#   DB_HOST (localhost) DB_PORT (5432) DB_USER (ingenio_user) DB_NAME (ingenio_prod)
#   DB_PASSWORD (optional; or use ~/.pgpass) BACKUP_DIR (/backup/postgres) RETENTION_DAYS (7)
#   BACKUP_S3_URI (optional, e.g. s3://your-backup-bucket/postgres/ ; needs the aws CLI)
#
# Cron, every day at 02:00 (guide §7.1):
#   0 2 * * * /opt/ingenio/scripts/backup-postgres.sh >> /var/log/ingenio-backup.log 2>&1
# With the service's .env:
#   0 2 * * * set -a; . /opt/ingenio/backend/.env; set +a; /opt/ingenio/scripts/backup-postgres.sh >> /var/log/ingenio-backup.log 2>&1
#
# Restore (guide §7.2):
#   gunzip < ingenio_prod_20250115_020000.sql.gz | psql -h "$DB_HOST" -U ingenio_user -d ingenio_prod
# or `cargo xtask restore <file>` / docs/operations/backup.md.
set -euo pipefail

# 配置
BACKUP_DIR="${BACKUP_DIR:-/backup/postgres}"
DB_HOST="${DB_HOST:-localhost}"
DB_PORT="${DB_PORT:-5432}"
DB_NAME="${DB_NAME:-ingenio_prod}"
DB_USER="${DB_USER:-ingenio_user}"
RETENTION_DAYS="${RETENTION_DAYS:-7}"

case "$RETENTION_DAYS" in
  '' | *[!0-9]*)
    echo "RETENTION_DAYS must be a whole number of days, got '$RETENTION_DAYS'" >&2
    exit 2
    ;;
esac

if [ -n "${DB_PASSWORD:-}" ] && [ -z "${PGPASSWORD:-}" ]; then
  export PGPASSWORD="$DB_PASSWORD"
fi

# 创建备份目录
mkdir -p "$BACKUP_DIR"

# 备份文件名（带时间戳）
TIMESTAMP=$(date +"%Y%m%d_%H%M%S")
BACKUP_FILE="$BACKUP_DIR/${DB_NAME}_${TIMESTAMP}.sql.gz"
PARTIAL_FILE="$BACKUP_FILE.partial"
trap 'rm -f "$PARTIAL_FILE"' EXIT

echo "开始备份数据库: $DB_NAME ($DB_HOST:$DB_PORT)"

# 执行备份（压缩）；pipefail makes a failing pg_dump fail the script, and the dump only gets its
# final name once it is complete.
pg_dump -h "$DB_HOST" -p "$DB_PORT" -U "$DB_USER" "$DB_NAME" | gzip > "$PARTIAL_FILE"
gzip -t "$PARTIAL_FILE"
mv "$PARTIAL_FILE" "$BACKUP_FILE"

echo "✅ 备份完成: $BACKUP_FILE"

# 计算备份文件大小
BACKUP_SIZE=$(du -h "$BACKUP_FILE" | cut -f1)
echo "备份文件大小: $BACKUP_SIZE"

# 清理旧备份
find "$BACKUP_DIR" -maxdepth 1 -name "${DB_NAME}_*.sql.gz" -mtime +"$RETENTION_DAYS" -print -delete
echo "已清理 ${RETENTION_DAYS} 天前的旧备份"

# 可选: 上传到S3
if [ -n "${BACKUP_S3_URI:-}" ]; then
  aws s3 cp "$BACKUP_FILE" "$BACKUP_S3_URI"
  echo "已上传到 $BACKUP_S3_URI"
fi
