import { expect, test } from "bun:test";
import { withoutCredentialParams } from "../../src/gateway/pipeline.ts";

test("credential parameters are removed from the forwarded query, every other byte kept", () => {
  expect(withoutCredentialParams("")).toBe("");
  expect(withoutCredentialParams("?clientId=abc")).toBe("?clientId=abc");
  expect(withoutCredentialParams("?clientId=abc&ticket=mst_x")).toBe("?clientId=abc");
  expect(withoutCredentialParams("?ticket=mst_x")).toBe("");
  expect(withoutCredentialParams("?filename=a%20b.png&token=mss_x&type=output")).toBe("?filename=a%20b.png&type=output");
  expect(withoutCredentialParams("?%74oken=mss_x&a=1")).toBe("?a=1"); // an encoded name is still the name
  expect(withoutCredentialParams("?access_token=x&subfolder=my_token=1")).toBe("?subfolder=my_token=1");
  expect(withoutCredentialParams("?mytoken=1&b=%ZZ")).toBe("?mytoken=1&b=%ZZ");
});
