"use client";
// [[ kind ]]: a stand-alone input, validated by the rules in its props.
import { useMemo, useState } from "react";
import type { NodeData } from "@/lib/types";
import { text } from "@/lib/types";
import type { RawValue } from "@/lib/validation";
import { fieldFromProps, validateField } from "@/lib/validation";
import FieldControl from "./FieldControl";

export default function [[ kind ]]({ node }: { node: NodeData }) {
  const field = useMemo(() => fieldFromProps(node.props, "[[ kind ]]"), [node]);
  const [value, setValue] = useState<RawValue>(field.type === "boolean" ? false : "");
  const [touched, setTouched] = useState(false);
  return (
    <FieldControl
      field={field}
      control="[[ kind ]]"
      value={value}
      error={touched ? validateField(field, value) : null}
      placeholder={text(node.props, "placeholder")}
      onChange={(v) => {
        setValue(v);
        setTouched(true);
      }}
    />
  );
}
