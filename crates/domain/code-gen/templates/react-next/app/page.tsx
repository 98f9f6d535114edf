import PageView from "@/components/PageView";

export default function Page() {
  return <PageView index={[[ page.index ]]} />;
}
