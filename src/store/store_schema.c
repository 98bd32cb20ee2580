/*
 * store_schema.c - the SQLite backend's schema as migrations: migration i
 * brings a database from version i (PRAGMA user_version) to i + 1;
 * store_sqlite.c runs the missing ones when a writer opens the store.
 */
#include "store/store_int.h"

/* Schema migrations: migration i brings the schema from version i to i + 1. */
const char *const pt_store_migrations[] = {
    "CREATE TABLE shops(id INTEGER PRIMARY KEY, public_id TEXT NOT NULL UNIQUE,"
    " name TEXT NOT NULL, key_id TEXT NOT NULL UNIQUE, key_hash BLOB NOT NULL,"
    " created INTEGER NOT NULL);"
    "CREATE TABLE customers(id INTEGER PRIMARY KEY, shop INTEGER NOT NULL,"
    " kind INTEGER NOT NULL, ext_id TEXT NOT NULL, merged_into INTEGER, traits TEXT,"
    " consent INTEGER NOT NULL DEFAULT 0, consent_set INTEGER NOT NULL DEFAULT 0,"
    " cart_value INTEGER NOT NULL DEFAULT 0, cart_since INTEGER NOT NULL DEFAULT 0,"
    " cart_t INTEGER NOT NULL DEFAULT 0, split INTEGER NOT NULL DEFAULT 0,"
    " created INTEGER NOT NULL,"
    " UNIQUE(shop, kind, ext_id));"
    /* events: narrow rows appended in seq order (never reused, so a chain head
     * of an erased identity can never lead into someone else's events); an identity's events form a
     * chain through `prev` (its previous event), so there is no per-customer
     * index to update at random on every insert; bodies live in event_bodies. */
    "CREATE TABLE events(seq INTEGER PRIMARY KEY AUTOINCREMENT, shop INTEGER NOT NULL,"
    " customer INTEGER NOT NULL, prev INTEGER, message_id TEXT, type INTEGER NOT NULL,"
    " kind INTEGER NOT NULL, name TEXT, t INTEGER NOT NULL, received INTEGER NOT NULL);"
    "CREATE UNIQUE INDEX events_message ON events(shop, message_id);"
    "CREATE TABLE event_bodies(seq INTEGER PRIMARY KEY, body TEXT NOT NULL);"
    "CREATE TABLE orders(shop INTEGER NOT NULL, order_id TEXT NOT NULL,"
    " customer INTEGER NOT NULL, t INTEGER NOT NULL, amount INTEGER NOT NULL,"
    " currency TEXT, refunded INTEGER NOT NULL DEFAULT 0, event INTEGER,"
    " PRIMARY KEY(shop, order_id)) WITHOUT ROWID;"
    "CREATE INDEX orders_customer ON orders(customer);"
    "CREATE TABLE order_lines(customer INTEGER NOT NULL, shop INTEGER NOT NULL,"
    " order_id TEXT NOT NULL, product_id TEXT, sku TEXT, category TEXT, name TEXT,"
    " price INTEGER, quantity INTEGER NOT NULL);"
    "CREATE INDEX order_lines_customer ON order_lines(customer);"
    "CREATE TABLE merges(id INTEGER PRIMARY KEY, shop INTEGER NOT NULL,"
    " into_customer INTEGER NOT NULL, from_customer INTEGER NOT NULL, t INTEGER NOT NULL,"
    " reason TEXT NOT NULL, undone_t INTEGER);"
    "CREATE INDEX merges_from ON merges(from_customer);"
    "CREATE INDEX merges_into ON merges(into_customer);",
    /* 1 -> 2: segments (store_seg.c). Track events of one product keep it in
     * columns (the activity segments are evaluated over, loaded at start);
     * Segment Entered / Exited events name their segment; orders record
     * whether they were discounted. */
    "ALTER TABLE events ADD COLUMN segment INTEGER;"
    "ALTER TABLE events ADD COLUMN product TEXT;"
    "ALTER TABLE events ADD COLUMN category TEXT;"
    "ALTER TABLE events ADD COLUMN qty INTEGER;"
    "ALTER TABLE orders ADD COLUMN discounted INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX events_segment ON events(segment, seq) WHERE segment IS NOT NULL;"
    "CREATE TABLE segments(id INTEGER PRIMARY KEY AUTOINCREMENT, shop INTEGER NOT NULL, name TEXT NOT NULL,"
    " rule TEXT NOT NULL, builtin TEXT, created INTEGER NOT NULL, updated INTEGER NOT NULL,"
    " members BLOB, members_seq INTEGER NOT NULL DEFAULT 0);"
    "CREATE UNIQUE INDEX segments_builtin ON segments(shop, builtin) WHERE builtin IS NOT NULL;"
    "CREATE TABLE segment_daily(segment INTEGER NOT NULL, day INTEGER NOT NULL,"
    " count INTEGER NOT NULL, PRIMARY KEY(segment, day)) WITHOUT ROWID;",
    /* 2 -> 3: loyalty (store_loy.c): the append-only ledger, programmes,
     * members, referrals, rewards and redemptions, vouchers and their uses,
     * code pools, and the answers of idempotent API requests. */
    "CREATE TABLE loy_entries(id INTEGER PRIMARY KEY AUTOINCREMENT, shop INTEGER NOT NULL,"
    " customer INTEGER NOT NULL, kind INTEGER NOT NULL, points INTEGER NOT NULL,"
    " t INTEGER NOT NULL, expires INTEGER NOT NULL DEFAULT 0, amount INTEGER NOT NULL DEFAULT 0,"
    " reason TEXT NOT NULL, ref TEXT, idem TEXT NOT NULL);"
    "CREATE UNIQUE INDEX loy_entries_idem ON loy_entries(shop, idem);"
    "CREATE INDEX loy_entries_customer ON loy_entries(customer, id);"
    "CREATE INDEX loy_entries_ref ON loy_entries(shop, ref) WHERE ref IS NOT NULL;"
    "CREATE TABLE loy_programs(shop INTEGER PRIMARY KEY, json TEXT NOT NULL,"
    " created INTEGER NOT NULL, updated INTEGER NOT NULL);"
    "CREATE TABLE loy_members(customer INTEGER PRIMARY KEY, shop INTEGER NOT NULL,"
    " tier INTEGER NOT NULL DEFAULT 0, tier_until INTEGER NOT NULL DEFAULT 0,"
    " joined INTEGER NOT NULL, code TEXT NOT NULL, referred_by INTEGER NOT NULL DEFAULT 0);"
    "CREATE UNIQUE INDEX loy_members_code ON loy_members(shop, code);"
    "CREATE TABLE loy_tier_log(id INTEGER PRIMARY KEY, shop INTEGER NOT NULL,"
    " customer INTEGER NOT NULL, t INTEGER NOT NULL, from_tier INTEGER NOT NULL,"
    " to_tier INTEGER NOT NULL);"
    "CREATE INDEX loy_tier_log_customer ON loy_tier_log(customer);"
    "CREATE TABLE loy_referrals(friend INTEGER PRIMARY KEY, shop INTEGER NOT NULL,"
    " referrer INTEGER NOT NULL, order_id TEXT NOT NULL, t INTEGER NOT NULL,"
    " due INTEGER NOT NULL, state INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX loy_referrals_referrer ON loy_referrals(referrer);"
    "CREATE TABLE loy_rewards(id INTEGER PRIMARY KEY AUTOINCREMENT, shop INTEGER NOT NULL,"
    " json TEXT NOT NULL, stock INTEGER NOT NULL, active INTEGER NOT NULL DEFAULT 1,"
    " created INTEGER NOT NULL, updated INTEGER NOT NULL);"
    "CREATE TABLE loy_redemptions(id INTEGER PRIMARY KEY AUTOINCREMENT, shop INTEGER NOT NULL,"
    " reward INTEGER NOT NULL, customer INTEGER NOT NULL, entry INTEGER NOT NULL,"
    " voucher TEXT NOT NULL, t INTEGER NOT NULL);"
    "CREATE INDEX loy_redemptions_member ON loy_redemptions(customer, reward);"
    "CREATE TABLE vouchers(code TEXT PRIMARY KEY, shop INTEGER NOT NULL, kind INTEGER NOT NULL,"
    " value INTEGER NOT NULL, currency TEXT, max_uses INTEGER NOT NULL, uses INTEGER NOT NULL"
    " DEFAULT 0, expires INTEGER NOT NULL, customer INTEGER NOT NULL DEFAULT 0,"
    " pool INTEGER NOT NULL DEFAULT 0, redemption INTEGER NOT NULL DEFAULT 0,"
    " created INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX vouchers_pool ON vouchers(pool, code) WHERE pool > 0;"
    "CREATE INDEX vouchers_customer ON vouchers(customer) WHERE customer > 0;"
    "CREATE TABLE voucher_uses(id INTEGER PRIMARY KEY, shop INTEGER NOT NULL,"
    " code TEXT NOT NULL, order_id TEXT, t INTEGER NOT NULL, idem TEXT NOT NULL);"
    "CREATE UNIQUE INDEX voucher_uses_idem ON voucher_uses(shop, idem);"
    "CREATE TABLE voucher_pools(id INTEGER PRIMARY KEY AUTOINCREMENT, shop INTEGER NOT NULL,"
    " name TEXT NOT NULL, json TEXT NOT NULL, n INTEGER NOT NULL, created INTEGER NOT NULL);"
    "CREATE TABLE api_idem(shop INTEGER NOT NULL, key TEXT NOT NULL, hash BLOB NOT NULL,"
    " status INTEGER NOT NULL, body TEXT NOT NULL, t INTEGER NOT NULL,"
    " PRIMARY KEY(shop, key)) WITHOUT ROWID;",
    /* 3 -> 4: automation (store_auto.c): message templates, messaging
     * settings, automations and their versions, runs, the outbox, suppressed
     * addresses, customer tags and the store's secrets. */
    "CREATE TABLE msg_templates(shop INTEGER NOT NULL, id TEXT NOT NULL, json TEXT NOT NULL,"
    " created INTEGER NOT NULL, updated INTEGER NOT NULL, PRIMARY KEY(shop, id)) WITHOUT ROWID;"
    "CREATE TABLE msg_settings(shop INTEGER PRIMARY KEY, json TEXT NOT NULL);"
    "CREATE TABLE automations(id INTEGER PRIMARY KEY AUTOINCREMENT, shop INTEGER NOT NULL,"
    " version INTEGER NOT NULL, status INTEGER NOT NULL, created INTEGER NOT NULL,"
    " updated INTEGER NOT NULL);"
    "CREATE TABLE automation_versions(automation INTEGER NOT NULL, version INTEGER NOT NULL,"
    " json TEXT NOT NULL, PRIMARY KEY(automation, version)) WITHOUT ROWID;"
    "CREATE TABLE auto_runs(id INTEGER PRIMARY KEY AUTOINCREMENT, shop INTEGER NOT NULL,"
    " automation INTEGER NOT NULL, version INTEGER NOT NULL, customer INTEGER NOT NULL,"
    " state INTEGER NOT NULL, pc INTEGER NOT NULL, flags INTEGER NOT NULL DEFAULT 0,"
    " wake INTEGER NOT NULL, entered INTEGER NOT NULL, ended INTEGER NOT NULL DEFAULT 0,"
    " key INTEGER NOT NULL DEFAULT 0, voucher TEXT NOT NULL DEFAULT '', ctx TEXT);"
    "CREATE INDEX auto_runs_customer ON auto_runs(customer, automation);"
    "CREATE INDEX auto_runs_active ON auto_runs(state) WHERE state = 0;"
    "CREATE TABLE outbox(id INTEGER PRIMARY KEY AUTOINCREMENT, msg_id TEXT NOT NULL UNIQUE,"
    " shop INTEGER NOT NULL, automation INTEGER NOT NULL, run INTEGER NOT NULL,"
    " customer INTEGER NOT NULL, channel INTEGER NOT NULL, marketing INTEGER NOT NULL,"
    " template TEXT, address TEXT NOT NULL, subject TEXT, html TEXT, text TEXT, body TEXT,"
    " status INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL,"
    " error TEXT, created INTEGER NOT NULL, sent_at INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX outbox_due ON outbox(next_at) WHERE status = 0;"
    "CREATE INDEX outbox_customer ON outbox(customer, channel, created);"
    "CREATE INDEX outbox_automation ON outbox(automation, status);"
    "CREATE TABLE suppressions(shop INTEGER NOT NULL, address TEXT NOT NULL,"
    " reason TEXT NOT NULL, t INTEGER NOT NULL, PRIMARY KEY(shop, address)) WITHOUT ROWID;"
    "CREATE TABLE customer_tags(customer INTEGER NOT NULL, tag TEXT NOT NULL,"
    " shop INTEGER NOT NULL, t INTEGER NOT NULL, PRIMARY KEY(customer, tag)) WITHOUT ROWID;"
    "CREATE TABLE secrets(name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;",
};
_Static_assert(sizeof pt_store_migrations / sizeof pt_store_migrations[0] ==
                   PT_STORE_SCHEMA_VERSION,
               "PT_STORE_SCHEMA_VERSION is the number of migrations");
