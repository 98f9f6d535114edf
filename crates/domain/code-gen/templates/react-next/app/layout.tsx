import type { Metadata } from "next";
import type { ReactNode } from "react";
import AppNav from "@/components/AppNav";
import { appData } from "@/lib/app";
import "./globals.css";

export const metadata: Metadata = { title: appData.appName };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang={appData.lang === "zh" ? "zh-CN" : "en"}>
      <body>
        <AppNav />
        {children}
      </body>
    </html>
  );
}
