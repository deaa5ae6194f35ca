import { Client } from "pg";
import { CHECKOUT_DATA_DIR, fingerprint } from "./checkout-data";
import { adminUrl } from "./db-names";

export default async function globalTeardown(): Promise<void> {
  const template = process.env.TEST_TEMPLATE_DB;
  if (template) {
    const admin = new Client({ connectionString: adminUrl() });
    await admin.connect();
    try {
      await admin.query(`drop database if exists ${template} with (force)`);
    } finally {
      await admin.end();
    }
  }
  if (process.env.TEST_CHECKOUT_DATA !== undefined && fingerprint() !== process.env.TEST_CHECKOUT_DATA) {
    throw new Error(
      `the tests wrote into ${CHECKOUT_DATA_DIR}, the directory npm start uses: a test opened the embedded database without a DATA_DIR of its own`,
    );
  }
}
