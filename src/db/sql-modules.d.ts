// `import text from "x.sql" with { type: "text" }` gives the file's contents as a string
// (Bun's text loader); this tells TypeScript so.
declare module "*.sql" {
  const text: string;
  export default text;
}
