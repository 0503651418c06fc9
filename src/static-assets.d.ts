// Files Bun imports as text (`with { type: "text" }`) so that they are embedded in the binary.
declare module "*.css" {
  const text: string;
  export default text;
}
