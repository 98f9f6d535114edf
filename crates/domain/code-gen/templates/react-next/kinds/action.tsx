"use client";
// [[ kind ]]: runs the component's flow, or goes to the page it names.
[% if kind == "Link" %]import NextLink from "next/link";
[% endif %]import { useRouter } from "next/navigation";
import { findPage, NAVIGATE_KEYS } from "@/lib/app";
import { useFlow } from "@/lib/hooks";
import type { NodeData } from "@/lib/types";
import { own, [% if kind == "Link" %]safeUrl, [% endif %]text } from "@/lib/types";

export default function [[ kind ]]({ node }: { node: NodeData }) {
  const router = useRouter();
  const run = useFlow(node);
  const label = text(node.props, "label", "text", "title") ?? "[[ kind ]]";
  const target = NAVIGATE_KEYS.map((k) => findPage(own(node.props, k))).find((p) => p !== undefined);
[% if kind == "Link" %]  if (!run && target) {
    return (
      <NextLink className="link" href={target.route}>
        {label}
      </NextLink>
    );
  }
  const href = safeUrl(text(node.props, "href", "url"));
  if (!run && href) {
    return (
      <a className="link" href={href} target="_blank" rel="noopener noreferrer">
        {label}
      </a>
    );
  }
  return (
    <button type="button" className="link" onClick={run}>
      {label}
    </button>
  );
[% else %]  const go = target ? () => router.push(target.route) : undefined;
  return (
    <button type="button" className="button" onClick={run ?? go}>
      {label}
    </button>
  );
[% endif %]}
