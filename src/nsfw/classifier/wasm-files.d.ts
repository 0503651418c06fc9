// `.wasm` files imported `with { type: "file" }` (embedded in the compiled binary): their path.
declare module "*.wasm" {
  const path: string;
  export default path;
}
