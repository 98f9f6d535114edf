import vue from "@vitejs/plugin-vue";
import { defineConfig } from "vite";

// Relative asset paths, so the built dist/ works from any folder or static host.
export default defineConfig({
  base: "./",
  plugins: [vue()],
});
