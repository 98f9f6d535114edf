"use client";
// [[ kind ]]: text from the spec, escaped by React.
import type { NodeData } from "@/lib/types";
import { [% if kind == "Avatar" %]safeUrl, [% endif %]text } from "@/lib/types";
import Children from "./Children";

export default function [[ kind ]]({ node }: { node: NodeData }) {
  const value = text(node.props, "text", "content", "title", "label", "value", "name") ?? "";
[% if kind == "Header" %]  const subtitle = text(node.props, "subtitle", "description");
  return (
    <header className="card">
      <h2>{value}</h2>
      {subtitle !== undefined && <div className="muted">{subtitle}</div>}
      <Children nodes={node.children} />
    </header>
  );
[% elif kind == "Footer" %]  return (
    <footer className="footer">
      {value}
      <Children nodes={node.children} />
    </footer>
  );
[% elif kind == "Badge" %]  return <span className="badge">{value}</span>;
[% elif kind == "Icon" %]  return (
    <span className="icon" aria-label={value}>
      {text(node.props, "icon", "symbol", "emoji") ?? "●"}
    </span>
  );
[% elif kind == "Avatar" %]  const src = safeUrl(text(node.props, "src", "image", "url"));
  return <span className="avatar">{src ? <img src={src} alt={value} /> : (Array.from(value)[0] ?? "?")}</span>;
[% else %]  return (
    <div className="text">
      {value}
      <Children nodes={node.children} />
    </div>
  );
[% endif %]}
