import { createApp } from "vue";
import App from "./App.vue";
import { appData } from "./lib/app";
import { router } from "./router";
import "./style.css";

document.title = appData.appName;
createApp(App).use(router).mount("#app");
