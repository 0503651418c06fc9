/** Entry of the user's own page (/mss-login/me). */
import { mountMe } from "./me/app.ts";

const root = document.getElementById("mss-app");
if (root) void mountMe(root);
