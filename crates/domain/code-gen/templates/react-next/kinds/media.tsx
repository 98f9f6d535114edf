"use client";
// [[ kind ]]: media from an http(s) or relative URL (other schemes are not loaded).
import type { NodeData } from "@/lib/types";
import { safeUrl, text } from "@/lib/types";

export default function [[ kind ]]({ node }: { node: NodeData }) {
  const src = safeUrl(text(node.props, "src", "url", "source"));
  const alt = text(node.props, "alt", "title", "label", "caption") ?? "";
  if (!src) return <div className="card muted">{alt || "[[ kind ]]"}</div>;
[% if kind == "Image" %]  return <img className="media" src={src} alt={alt} />;
[% elif kind == "Video" %]  return <video className="media" src={src} controls title={alt} />;
[% else %]  return <audio src={src} controls title={alt} />;
[% endif %]}
