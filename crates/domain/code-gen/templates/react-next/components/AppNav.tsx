"use client";
// The navigation bar: the app name and a link to every page.
import Link from "next/link";
import { usePathname } from "next/navigation";
import { appData } from "@/lib/app";

function same(a: string, b: string): boolean {
  const trim = (s: string) => (s.length > 1 ? s.replace(/\/+$/, "") : s);
  return trim(a) === trim(b);
}

export default function AppNav() {
  const pathname = usePathname() ?? "/";
  return (
    <nav className="nav">
      <span className="nav-title">{appData.appName}</span>
      {appData.pages.map((page, i) => (
        <Link key={i} href={page.route} aria-current={same(pathname, page.route) ? "page" : undefined}>
          {page.name}
        </Link>
      ))}
    </nav>
  );
}
