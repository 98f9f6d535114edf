// One route per page of the app (hash history, so the built site works on any static host).
import { createRouter, createWebHashHistory } from "vue-router";
[% for page in plan.pages %]import [[ page.view ]] from "./views/[[ page.view ]].vue";
[% endfor %]
export const router = createRouter({
  history: createWebHashHistory(),
  routes: [
[% for page in plan.pages %]    { path: "[[ page.route ]]", component: [[ page.view ]] },
[% endfor %]    { path: "/:rest(.*)*", redirect: "/" },
  ],
});
