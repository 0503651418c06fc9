/** Entry of the standalone admin page (/mss-login/admin). */
import { mountAdmin } from "./admin/app.ts";

const root = document.getElementById("mss-app");
if (root) void mountAdmin(root, { embedded: false });
