import type { Metadata } from "next";
import type { ReactNode } from "react";
import NavBar from "@/components/NavBar";
import { appData } from "@/lib/app";
import "./globals.css";

export const metadata: Metadata = { title: appData.appName };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang={appData.lang === "zh" ? "zh-CN" : "en"}>
      <body>
        <NavBar />
        {children}
      </body>
    </html>
  );
}
