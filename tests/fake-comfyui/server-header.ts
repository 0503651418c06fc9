/** The `Server` header of the recorded ComfyUI (cosmetic, but proxies sometimes pass it on). */
export const SERVER_HEADER = "Python/3.13 aiohttp/3.11.16";
