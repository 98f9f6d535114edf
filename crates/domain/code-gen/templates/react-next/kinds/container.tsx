"use client";
// [[ kind ]]: a box around its children.
[% if kind == "Navbar" %]import Link from "next/link";
import { appData } from "@/lib/app";
[% endif %]import type { NodeData } from "@/lib/types";
import { text } from "@/lib/types";
import Children from "./Children";

export default function [[ kind ]]({ node }: { node: NodeData }) {
  const title = text(node.props, "title", "label", "text");
[% if kind == "Navbar" %]  return (
    <nav className="nav">
      {title !== undefined && <span className="nav-title">{title}</span>}
      {appData.pages.map((page, i) => (
        <Link key={i} href={page.route}>
          {page.name}
        </Link>
      ))}
      <Children nodes={node.children} />
    </nav>
  );
[% else %]  return (
    <section className="[% if kind == "Card" %]card[% elif kind == "Row" %]row[% else %]column[% endif %]">
      {title !== undefined && <h3>{title}</h3>}
      <Children nodes={node.children} />
    </section>
  );
[% endif %]}
