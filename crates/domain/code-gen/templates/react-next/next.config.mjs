// Static export: `npm run build` writes a plain website to out/ (no server, no network at run time).
/** @type {import('next').NextConfig} */
const nextConfig = {
  output: "export",
  images: { unoptimized: true },
  trailingSlash: true,
};

export default nextConfig;
