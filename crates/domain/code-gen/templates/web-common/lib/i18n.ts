// User-facing messages in the app's language.
import { appData } from "./app-data";

const en = {
  required: (f: string) => `${f} is required`,
  number: (f: string) => `${f} must be a number`,
  date: (f: string) => `${f} must be a date`,
  minLength: (f: string, n: number) => `${f} must be at least ${n} characters`,
  maxLength: (f: string, n: number) => `${f} must be at most ${n} characters`,
  min: (f: string, n: number) => `${f} must be at least ${n}`,
  max: (f: string, n: number) => `${f} must be at most ${n}`,
  pattern: (f: string) => `${f} has the wrong format`,
  email: (f: string) => `${f} must be an email address`,
  options: (f: string) => `${f} must be one of the listed options`,
  save: "Save",
  saved: "Saved",
  cancel: "Cancel",
  edit: "Edit",
  remove: "Delete",
  empty: "Nothing here yet",
  unknown: (t: string) => `Unknown component: ${t}`,
  open: "Open",
  close: "Close",
  start: "Start",
  reset: "Reset",
  showAnswer: "Show answer",
  next: "Next",
  noModel: "No data model",
};

type Messages = typeof en;

const zh: Messages = {
  required: (f) => `${f}为必填项`,
  number: (f) => `${f}必须是数字`,
  date: (f) => `${f}必须是日期`,
  minLength: (f, n) => `${f}至少需要 ${n} 个字符`,
  maxLength: (f, n) => `${f}最多 ${n} 个字符`,
  min: (f, n) => `${f}不能小于 ${n}`,
  max: (f, n) => `${f}不能大于 ${n}`,
  pattern: (f) => `${f}格式不正确`,
  email: (f) => `${f}必须是邮箱地址`,
  options: (f) => `${f}必须是给定的选项之一`,
  save: "保存",
  saved: "已保存",
  cancel: "取消",
  edit: "编辑",
  remove: "删除",
  empty: "暂无数据",
  unknown: (t) => `未知组件：${t}`,
  open: "打开",
  close: "关闭",
  start: "开始",
  reset: "重置",
  showAnswer: "显示答案",
  next: "下一题",
  noModel: "没有数据模型",
};

export const t: Messages = appData.lang === "zh" ? zh : en;
