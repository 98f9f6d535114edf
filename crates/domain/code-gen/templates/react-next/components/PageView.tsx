"use client";
// One spec page: its title and its components.
import { appData } from "@/lib/app";
import Children from "./Children";

export default function PageView({ index }: { index: number }) {
  const page = appData.pages[index];
  return (
    <main className="page">
      <h1 className="page-title">{page.name}</h1>
      <Children nodes={page.components} />
    </main>
  );
}
