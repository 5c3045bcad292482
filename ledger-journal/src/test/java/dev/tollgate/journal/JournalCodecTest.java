package dev.tollgate.journal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.tollgate.config.Durability;
import dev.tollgate.journal.JournalEvent.AccountOpened;
import dev.tollgate.journal.JournalEvent.Adjusted;
import dev.tollgate.journal.JournalEvent.CreditAdded;
import dev.tollgate.journal.JournalEvent.KeyIssued;
import dev.tollgate.journal.JournalEvent.KeyRevoked;
import dev.tollgate.journal.JournalEvent.Released;
import dev.tollgate.journal.JournalEvent.RequestFacts;
import dev.tollgate.journal.JournalEvent.ReservationExtended;
import dev.tollgate.journal.JournalEvent.ReservationMade;
import dev.tollgate.journal.JournalEvent.Settled;
import dev.tollgate.metering.Usage;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.function.Function;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The record layout alone: every type survives a round trip with any field values the validation
 * allows (multi-byte UTF-8 and every field at its maximum length included); what the validation
 * refuses is refused before anything is written; and every kind of damage a record can suffer on
 * disk is an error, never a different record.
 */
class JournalCodecTest {

    /** The one seed of every randomized test here: {@code -Dtollgate.seed=N} replays a failure. */
    static long seed(String testName) {
        long seed = Long.getLong("tollgate.seed", 20261127L);
        System.out.println(testName + ": seed " + seed + " (replay with -Dtollgate.seed=" + seed + ")");
        return seed;
    }

    /**
     * Random valid events. Strings mix one-, two-, three- and four-byte UTF-8 characters and, one time
     * in four, fill their field's limit exactly, so the limits are checked in bytes, not characters.
     */
    static final class RandomEvents {
        private static final String[] ALPHABET = {"a", "Z", "7", "-", "_", " ", "é", "ß", "€", "漢", "😀", "🚀"};
        private final Random random;

        RandomEvents(Random random) {
            this.random = random;
        }

        String text(int maxBytes, boolean required) {
            boolean fill = random.nextInt(4) == 0;
            int target = fill ? maxBytes : random.nextInt(maxBytes + 1);
            if (required && target == 0) {
                target = 1;
            }
            StringBuilder text = new StringBuilder();
            int bytes = 0;
            while (bytes < target) {
                String next = ALPHABET[random.nextInt(ALPHABET.length)];
                int length = next.getBytes(StandardCharsets.UTF_8).length;
                if (bytes + length > target) {
                    next = "x";
                    length = 1;
                }
                text.append(next);
                bytes += length;
            }
            return text.toString();
        }

        String keyHash() {
            byte[] bytes = new byte[32];
            random.nextBytes(bytes);
            return HexFormat.of().formatHex(bytes);
        }

        long amount() {
            // Mostly realistic amounts, sometimes near the top of the range the sums below cannot overflow.
            return random.nextInt(5) == 0 ? random.nextLong(1L << 61) : random.nextLong(1, 10_000_000);
        }

        long timestamp() {
            return random.nextInt(10) == 0 ? random.nextLong(0, Long.MAX_VALUE) : 1_795_000_000_000L + random.nextInt(1_000_000_000);
        }

        RequestFacts facts() {
            long start = random.nextLong(0, Long.MAX_VALUE / 2);
            return new RequestFacts(text(JournalCodec.MAX_ID, true), text(JournalCodec.MAX_ID, true), keyHash(), text(JournalCodec.MAX_LANE, false),
                    text(JournalCodec.MAX_ID, false), text(JournalCodec.MAX_MODEL, false), text(JournalCodec.MAX_ID, false), start,
                    start + random.nextLong(0, Long.MAX_VALUE / 2), text(JournalCodec.MAX_UPSTREAM_ID, false),
                    random.nextInt(4) == 0 ? "" : catalogVersion(), random.nextInt(3) == 0 ? "" : text(JournalCodec.MAX_ROW_VERSION, false),
                    random.nextInt(3) == 0 ? "" : text(JournalCodec.MAX_SERVICE_TIER, false),
                    random.nextInt(2) == 0 ? "" : text(JournalCodec.MAX_MODEL, false), random.nextInt(2) == 0 ? "" : text(JournalCodec.MAX_ATTEMPTS, false),
                    random.nextInt(2) == 0 ? RequestFacts.NO_MULTIPLIER_BPS : random.nextInt(1, JournalCodec.MAX_PRICE_MULTIPLIER_BPS + 1),
                    random.nextInt(2) == 0 ? RequestFacts.PREPAID : random.nextLong(0, JournalCodec.MAX_DIRECT_COST_MICROS + 1));
        }

        /** As the codec reads a version 4 record: paid from the prepaid balance (no direct cost). */
        static JournalEvent withoutBilling(JournalEvent event) {
            return switch (event) {
                case Settled e -> new Settled(e.timestampMs(), e.reservationId(), withoutBilling(e.request()), e.usage(),
                        e.usageReportedByProvider(), e.costMicros(), e.debitedMicros(), e.writtenOffMicros(), e.reason());
                case Released e -> new Released(e.timestampMs(), e.reservationId(), withoutBilling(e.request()), e.reason());
                default -> event;
            };
        }

        static RequestFacts withoutBilling(RequestFacts f) {
            return new RequestFacts(f.requestId(), f.accountId(), f.keyHash(), f.lane(), f.provider(), f.model(), f.endpoint(), f.startMs(),
                    f.endMs(), f.upstreamRequestId(), f.catalogVersion(), f.rowVersion(), f.serviceTier(), f.requestedModel(), f.attempts(),
                    f.priceMultiplierBps());
        }

        String catalogVersion() {
            return keyHash().substring(0, JournalCodec.CATALOG_VERSION_LENGTH);
        }

        /** As the codec reads a version 1 record: without a catalog version. */
        static JournalEvent withoutCatalogVersion(JournalEvent event) {
            return switch (event) {
                case Settled e -> new Settled(e.timestampMs(), e.reservationId(), withoutCatalogVersion(e.request()), e.usage(),
                        e.usageReportedByProvider(), e.costMicros(), e.debitedMicros(), e.writtenOffMicros(), e.reason());
                case Released e -> new Released(e.timestampMs(), e.reservationId(), withoutCatalogVersion(e.request()), e.reason());
                default -> event;
            };
        }

        static RequestFacts withoutCatalogVersion(RequestFacts f) {
            return new RequestFacts(f.requestId(), f.accountId(), f.keyHash(), f.lane(), f.provider(), f.model(), f.endpoint(), f.startMs(),
                    f.endMs(), f.upstreamRequestId());
        }

        /** As the codec reads a version 3 record: without a requested model, attempts or price multiplier. */
        static JournalEvent withoutRoute(JournalEvent event) {
            return switch (event) {
                case Settled e -> new Settled(e.timestampMs(), e.reservationId(), withoutRoute(e.request()), e.usage(),
                        e.usageReportedByProvider(), e.costMicros(), e.debitedMicros(), e.writtenOffMicros(), e.reason());
                case Released e -> new Released(e.timestampMs(), e.reservationId(), withoutRoute(e.request()), e.reason());
                default -> event;
            };
        }

        static RequestFacts withoutRoute(RequestFacts f) {
            return new RequestFacts(f.requestId(), f.accountId(), f.keyHash(), f.lane(), f.provider(), f.model(), f.endpoint(), f.startMs(),
                    f.endMs(), f.upstreamRequestId(), f.catalogVersion(), f.rowVersion(), f.serviceTier());
        }

        /** As the codec reads a version 2 record: without a row version, a service tier or the usage's parts. */
        static JournalEvent withoutRowVersion(JournalEvent event) {
            return switch (event) {
                case Settled e -> new Settled(e.timestampMs(), e.reservationId(), withoutRowVersion(e.request()), kindsOnly(e.usage()),
                        e.usageReportedByProvider(), e.costMicros(), e.debitedMicros(), e.writtenOffMicros(), e.reason());
                case Released e -> new Released(e.timestampMs(), e.reservationId(), withoutRowVersion(e.request()), e.reason());
                default -> event;
            };
        }

        static RequestFacts withoutRowVersion(RequestFacts f) {
            return new RequestFacts(f.requestId(), f.accountId(), f.keyHash(), f.lane(), f.provider(), f.model(), f.endpoint(), f.startMs(),
                    f.endMs(), f.upstreamRequestId(), f.catalogVersion());
        }

        static Usage kindsOnly(Usage u) {
            return new Usage(u.inputTokens(), u.cacheReadTokens(), u.cacheWriteTokens(), u.outputTokens(), u.reasoningTokens());
        }

        Usage usage() {
            Usage kinds = new Usage(random.nextLong(0, Long.MAX_VALUE), random.nextLong(0, 1_000_000), random.nextLong(0, 1_000_000),
                    random.nextLong(0, Long.MAX_VALUE), random.nextLong(0, 100_000));
            if (random.nextBoolean()) {
                return kinds;
            }
            return kinds.withParts(random.nextLong(0, Long.MAX_VALUE), random.nextLong(0, Long.MAX_VALUE), random.nextLong(0, Long.MAX_VALUE),
                    random.nextLong(0, Long.MAX_VALUE), random.nextLong(0, Long.MAX_VALUE)).withServerToolCalls(counts()).withUnits(counts());
        }

        /** Up to the most names a usage may count, each of up to the longest name, with positive counts. */
        java.util.Map<String, Long> counts() {
            java.util.Map<String, Long> counts = new java.util.HashMap<>();
            int names = random.nextInt(Usage.MAX_COUNTED_NAMES + 1);
            while (counts.size() < names) {
                StringBuilder name = new StringBuilder();
                int length = 1 + random.nextInt(JournalCodec.MAX_COUNTED_NAME);
                for (int i = 0; i < length; i++) {
                    name.append("abcxyz0189_.".charAt(random.nextInt(12)));
                }
                counts.put(name.toString(), random.nextLong(1, Long.MAX_VALUE));
            }
            return counts;
        }

        JournalEvent of(EventType type) {
            long ts = timestamp();
            return switch (type) {
                case ACCOUNT_OPENED -> new AccountOpened(ts, text(JournalCodec.MAX_ID, true));
                case CREDIT_ADDED -> new CreditAdded(ts, text(JournalCodec.MAX_ID, true), amount(), text(JournalCodec.MAX_IDEMPOTENCY_KEY, true));
                case ADJUSTED -> new Adjusted(ts, text(JournalCodec.MAX_ID, true), random.nextBoolean() ? amount() : -amount(),
                        text(JournalCodec.MAX_REASON, true), text(JournalCodec.MAX_IDEMPOTENCY_KEY, true));
                case KEY_ISSUED -> new KeyIssued(ts, keyHash(), text(JournalCodec.MAX_DISPLAY_PREFIX, false), text(JournalCodec.MAX_LABEL, true),
                        text(JournalCodec.MAX_ID, true));
                case KEY_REVOKED -> new KeyRevoked(ts, keyHash());
                case RESERVATION_MADE -> new ReservationMade(ts, random.nextLong(1, Long.MAX_VALUE), text(JournalCodec.MAX_ID, true), keyHash(),
                        random.nextBoolean() ? 0 : amount(), text(JournalCodec.MAX_ID, true));
                case RESERVATION_EXTENDED -> new ReservationExtended(ts, random.nextLong(1, Long.MAX_VALUE), amount());
                case SETTLED -> {
                    long debited = random.nextBoolean() ? 0 : amount();
                    long writtenOff = random.nextInt(3) == 0 ? amount() : 0;
                    yield new Settled(ts, random.nextLong(1, Long.MAX_VALUE), facts(), usage(), random.nextBoolean(), debited + writtenOff,
                            debited, writtenOff, text(JournalCodec.MAX_REASON, true));
                }
                case RELEASED -> new Released(ts, random.nextLong(1, Long.MAX_VALUE), facts(), text(JournalCodec.MAX_REASON, true));
                case USAGE_DRIFT -> new JournalEvent.UsageDrift(ts, random.nextLong(1, Long.MAX_VALUE), usage(), usage());
                case KEY_LIMITS_SET -> new JournalEvent.KeyLimitsSet(ts, keyHash(), cap(), cap(), cap());
                case KEY_SCOPE_SET -> new JournalEvent.KeyScopeSet(ts, keyHash(), text(JournalCodec.MAX_LABEL, true), tag(), tag(),
                        scopeModels(), random.nextBoolean() ? -1 : timestamp(), networks());
                case KEY_ROTATED -> new JournalEvent.KeyRotated(ts, keyHash(), keyHash(), text(JournalCodec.MAX_DISPLAY_PREFIX, true), timestamp());
                case RATE_LIMITS_SET -> {
                    boolean key = random.nextBoolean();
                    yield new JournalEvent.RateLimitsSet(ts, key ? JournalEvent.RateLimitsSet.KEY : JournalEvent.RateLimitsSet.ACCOUNT,
                            key ? keyHash() : text(JournalCodec.MAX_ID, true), perMinute(), perMinute(),
                            random.nextBoolean() ? -1 : random.nextLong(1, JournalCodec.MAX_CONCURRENCY + 1));
                }
                case CREDENTIAL_SET -> new JournalEvent.CredentialSet(ts, text(JournalCodec.MAX_ID, true), text(JournalCodec.MAX_ID, true),
                        random.nextBoolean());
                case CATALOG_LOADED -> new JournalEvent.CatalogLoaded(ts, catalogVersion(), text(JournalCodec.MAX_CATALOG_SOURCE, true),
                        random.nextInt(1, Integer.MAX_VALUE));
                case ALERT_SET -> {
                    boolean key = random.nextBoolean();
                    yield new JournalEvent.AlertSet(ts, key ? JournalEvent.AlertSet.KEY : JournalEvent.AlertSet.ACCOUNT,
                            key ? keyHash() : text(JournalCodec.MAX_ID, true),
                            random.nextBoolean() ? -1 : key ? random.nextInt(1, 101) : random.nextLong(0, Long.MAX_VALUE));
                }
                case ALERT_RAISED -> {
                    JournalEvent.AlertRaised.Window window = JournalEvent.AlertRaised.Window.values()[random.nextInt(4)];
                    int period = switch (window) {
                        case TOTAL -> 0;
                        case BALANCE -> random.nextInt(0, Integer.MAX_VALUE);
                        default -> random.nextInt(0, dev.tollgate.metering.SpendWindows.MAX_ALERT_PERIOD + 1);
                    };
                    yield new JournalEvent.AlertRaised(ts, window, text(JournalCodec.MAX_ID, true), keyHash(), period,
                            window == JournalEvent.AlertRaised.Window.BALANCE ? -1 : random.nextLong(1, Long.MAX_VALUE), amount(), amount());
                }
                case AUTHORED -> {
                    EventType[] authorable = JournalCodec.AUTHORABLE.toArray(EventType[]::new);
                    JournalEvent change = of(authorable[random.nextInt(authorable.length)]);
                    yield new JournalEvent.Authored(change.timestampMs(), text(JournalCodec.MAX_LABEL, true), text(JournalCodec.MAX_REASON, false), change);
                }
            };
        }

        /** A scope's tag as KeyScope takes it (none, or up to its longest). */
        String tag() {
            int length = random.nextBoolean() ? JournalCodec.MAX_TAG : random.nextInt(JournalCodec.MAX_TAG + 1);
            StringBuilder tag = new StringBuilder();
            for (int i = 0; i < length; i++) {
                tag.append(i == 0 ? "abcdefghijklmnopqrstuvwxyz0123456789".charAt(random.nextInt(36)) : "abz09_.-".charAt(random.nextInt(8)));
            }
            return tag.toString();
        }

        /** Up to the most models KeyScope takes, exact names and prefix patterns, each of the longest size half the time. */
        java.util.List<String> scopeModels() {
            int count = random.nextBoolean() ? JournalCodec.MAX_KEY_MODELS : random.nextInt(JournalCodec.MAX_KEY_MODELS + 1);
            java.util.List<String> models = new java.util.ArrayList<>();
            for (int i = 0; i < count; i++) {
                int length = random.nextBoolean() ? dev.tollgate.metering.KeyScope.MAX_MODEL_PATTERN_LENGTH - 1 : 1 + random.nextInt(40);
                String name = "m" + "a1_.:/@-".repeat(length / 8 + 1).substring(0, length - 1);
                models.add(random.nextBoolean() ? name + "*" : name);
            }
            return models;
        }

        /** Up to the most networks KeyScope takes, IPv4 and full-length IPv6 blocks. */
        java.util.List<String> networks() {
            int count = random.nextBoolean() ? JournalCodec.MAX_KEY_NETWORKS : random.nextInt(JournalCodec.MAX_KEY_NETWORKS + 1);
            java.util.List<String> networks = new java.util.ArrayList<>();
            for (int i = 0; i < count; i++) {
                networks.add(random.nextBoolean() ? "10." + random.nextInt(256) + ".0.0/16" : "fd00:ffff:ffff:ffff:ffff:ffff:ffff:" + Integer.toHexString(0x1000 + i) + "/128");
            }
            return networks;
        }

        long perMinute() {
            return random.nextInt(3) == 0 ? -1 : random.nextLong(1, JournalCodec.MAX_PER_MINUTE + 1);
        }

        long cap() {
            return random.nextInt(4) == 0 ? -1 : random.nextLong(0, JournalCodec.MAX_CAP_MICROS + 1);
        }

        JournalEvent any() {
            EventType[] types = EventType.values();
            return of(types[random.nextInt(types.length)]);
        }
    }

    /** A settlement as the proxy writes one: realistic lengths, ASCII, every field present. */
    static Settled typicalSettlement(long reservationId, String accountId, String keyHash, long nowMs) {
        return typicalSettlement(reservationId, accountId, keyHash, nowMs, 2_113);
    }

    static Settled typicalSettlement(long reservationId, String accountId, String keyHash, long nowMs, long costMicros) {
        RequestFacts facts = new RequestFacts("tg_req_a55725bc8477dacf", accountId, keyHash, "interactive", "openai", "gpt-4o-mini",
                "/v1/chat/completions", nowMs - 850, nowMs, "req_9d1f0c2b7e6a4c3f8b2d1e0f9a8b7c6d");
        return new Settled(nowMs, reservationId, facts, new Usage(812, 1024, 0, 356, 64), true, costMicros, costMicros, 0, "completed");
    }

    static byte[] encode(JournalEvent event) {
        ByteBuffer buffer = ByteBuffer.allocate(JournalCodec.MAX_RECORD_LENGTH);
        int length = JournalCodec.encode(event, buffer);
        return Arrays.copyOf(buffer.array(), length);
    }

    static byte[] encode(JournalEvent event, int version) {
        ByteBuffer buffer = ByteBuffer.allocate(JournalCodec.MAX_RECORD_LENGTH);
        int length = JournalCodec.encode(event, buffer, version);
        return Arrays.copyOf(buffer.array(), length);
    }

    static String catalogVersionOf(JournalEvent event) {
        return switch (event) {
            case Settled e -> e.request().catalogVersion();
            case Released e -> e.request().catalogVersion();
            default -> "";
        };
    }

    /** Decodes from a buffer exactly as long as the record, so no read past its end goes unnoticed. */
    static JournalEvent decode(byte[] record) {
        return JournalCodec.decode(ByteBuffer.wrap(record.clone()), record.length);
    }

    /** Rewrites the body length and checksum, so a test reaches the check behind them. */
    static byte[] reseal(byte[] record) {
        ByteBuffer buffer = ByteBuffer.wrap(record).order(ByteOrder.LITTLE_ENDIAN);
        int bodyLength = record.length - JournalCodec.HEADER_LENGTH - JournalCodec.CHECKSUM_LENGTH;
        buffer.putShort(2, (short) bodyLength);
        CRC32C crc = new CRC32C();
        crc.update(record, 0, record.length - JournalCodec.CHECKSUM_LENGTH);
        buffer.putInt(record.length - JournalCodec.CHECKSUM_LENGTH, (int) crc.getValue());
        return record;
    }

    @Test
    void everyTypeRoundTripsWithRandomFieldValues() {
        Random random = new Random(seed("JournalCodecTest.everyTypeRoundTripsWithRandomFieldValues"));
        RandomEvents events = new RandomEvents(random);
        Set<EventType> seen = EnumSet.noneOf(EventType.class);
        Set<EventType> versionOneSeen = EnumSet.noneOf(EventType.class);
        Set<EventType> versionTwoSeen = EnumSet.noneOf(EventType.class);
        Set<EventType> versionThreeSeen = EnumSet.noneOf(EventType.class);
        int longest = 0;
        for (int i = 0; i < 20_000; i++) {
            JournalEvent event = events.any();
            byte[] record = encode(event);
            longest = Math.max(longest, record.length);
            assertThat(record[0] & 0xFF).isEqualTo(event.type().code());
            int expectedVersion = event.type() == EventType.SETTLED || event.type() == EventType.RELEASED ? 5 : 1;
            assertThat(record[1] & 0xFF).isEqualTo(expectedVersion).isEqualTo(JournalCodec.currentVersion(event.type()));
            assertThat(decode(record)).as("round trip of %s", event).isEqualTo(event);
            seen.add(event.type());
            if (expectedVersion == 5) {
                // The same debit as a version 4 writer wrote it, which had no direct cost: prepaid.
                JournalEvent fourth = RandomEvents.withoutBilling(event);
                byte[] v4 = encode(fourth, 4);
                assertThat(v4[1] & 0xFF).isEqualTo(4);
                assertThat(decode(v4)).as("version 4 round trip of %s", fourth).isEqualTo(fourth);
                assertThat(v4.length).isEqualTo(record.length - Long.BYTES);
                if (!event.equals(fourth)) {
                    assertThatThrownBy(() -> encode(event, 4)).as("version 4 has no place for what %s carries", event)
                            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no direct cost");
                }
                // The same debit as a version 3 writer wrote it, which had no requested model, attempts or multiplier.
                JournalEvent third = RandomEvents.withoutRoute(fourth);
                byte[] v3 = encode(third, 3);
                assertThat(v3[1] & 0xFF).isEqualTo(3);
                assertThat(decode(v3)).as("version 3 round trip of %s", third).isEqualTo(third);
                assertThat(v3.length).isLessThan(record.length);
                versionThreeSeen.add(event.type());
                if (!fourth.equals(third)) {
                    assertThatThrownBy(() -> encode(fourth, 3)).as("version 3 has no place for what %s carries", event)
                            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no requested model");
                }
                // The same debit as a version 2 writer wrote it, which had no row version, service tier or usage parts.
                JournalEvent second = RandomEvents.withoutRowVersion(event);
                byte[] v2 = encode(second, 2);
                assertThat(v2[1] & 0xFF).isEqualTo(2);
                assertThat(decode(v2)).as("version 2 round trip of %s", second).isEqualTo(second);
                versionTwoSeen.add(event.type());
                if (!third.equals(second)) {
                    assertThatThrownBy(() -> encode(third, 2)).as("version 2 has no place for what %s carries", third)
                            .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no row version");
                }
                // The same debit as a version 1 writer wrote it, which had no catalog version: it reads as none.
                JournalEvent older = RandomEvents.withoutCatalogVersion(second);
                byte[] v1 = encode(older, 1);
                assertThat(v1[1] & 0xFF).isEqualTo(1);
                assertThat(v1.length).isEqualTo(v2.length - 2 - catalogVersionOf(event).length());
                longest = Math.max(longest, v1.length);
                assertThat(decode(v1)).as("version 1 round trip of %s", older).isEqualTo(older);
                versionOneSeen.add(event.type());
            }
        }
        assertThat(seen).containsExactlyInAnyOrder(EventType.values());
        assertThat(versionOneSeen).containsExactlyInAnyOrder(EventType.SETTLED, EventType.RELEASED);
        assertThat(versionTwoSeen).containsExactlyInAnyOrder(EventType.SETTLED, EventType.RELEASED);
        assertThat(versionThreeSeen).containsExactlyInAnyOrder(EventType.SETTLED, EventType.RELEASED);
        System.out.println("longest record: " + longest + " bytes of at most " + JournalCodec.MAX_RECORD_LENGTH);
    }

    @Test
    void everyFieldAtItsLimitInFourByteCharactersFitsARecord() {
        // The largest valid record of each type: every string at its byte limit, in 4-byte characters
        // where the limit allows (so the characters, not only the bytes, are at their densest).
        Function<Integer, String> full = bytes -> "😀".repeat(bytes / 4) + "x".repeat(bytes % 4);
        RequestFacts facts = new RequestFacts(full.apply(JournalCodec.MAX_ID), full.apply(JournalCodec.MAX_ID), "f".repeat(64),
                full.apply(JournalCodec.MAX_LANE), full.apply(JournalCodec.MAX_ID), full.apply(JournalCodec.MAX_MODEL), full.apply(JournalCodec.MAX_ID),
                0, Long.MAX_VALUE, full.apply(JournalCodec.MAX_UPSTREAM_ID), "0123456789abcdef", full.apply(JournalCodec.MAX_ROW_VERSION),
                full.apply(JournalCodec.MAX_SERVICE_TIER), full.apply(JournalCodec.MAX_MODEL), full.apply(JournalCodec.MAX_ATTEMPTS),
                JournalCodec.MAX_PRICE_MULTIPLIER_BPS);
        java.util.Map<String, Long> mostNames = new java.util.HashMap<>();
        for (int i = 0; i < Usage.MAX_COUNTED_NAMES; i++) {
            mostNames.put(i + "x".repeat(JournalCodec.MAX_COUNTED_NAME - 1), Long.MAX_VALUE);
        }
        Usage usage = new Usage(Long.MAX_VALUE, Long.MAX_VALUE, Long.MAX_VALUE, Long.MAX_VALUE, Long.MAX_VALUE)
                .withParts(Long.MAX_VALUE, Long.MAX_VALUE / 2, Long.MAX_VALUE / 2, Long.MAX_VALUE / 2, Long.MAX_VALUE / 2)
                .withServerToolCalls(mostNames).withUnits(mostNames);
        List<JournalEvent> largest = List.of(
                new AccountOpened(Long.MAX_VALUE, full.apply(JournalCodec.MAX_ID)),
                new CreditAdded(Long.MAX_VALUE, full.apply(JournalCodec.MAX_ID), Long.MAX_VALUE, full.apply(JournalCodec.MAX_IDEMPOTENCY_KEY)),
                new Adjusted(Long.MAX_VALUE, full.apply(JournalCodec.MAX_ID), Long.MIN_VALUE, full.apply(JournalCodec.MAX_REASON),
                        full.apply(JournalCodec.MAX_IDEMPOTENCY_KEY)),
                new KeyIssued(Long.MAX_VALUE, "0".repeat(64), full.apply(JournalCodec.MAX_DISPLAY_PREFIX), full.apply(JournalCodec.MAX_LABEL),
                        full.apply(JournalCodec.MAX_ID)),
                new KeyRevoked(Long.MAX_VALUE, "a".repeat(64)),
                new ReservationMade(Long.MAX_VALUE, Long.MAX_VALUE, full.apply(JournalCodec.MAX_ID), "9".repeat(64), Long.MAX_VALUE,
                        full.apply(JournalCodec.MAX_ID)),
                new ReservationExtended(Long.MAX_VALUE, Long.MAX_VALUE, Long.MAX_VALUE),
                new Settled(Long.MAX_VALUE, Long.MAX_VALUE, facts, usage, true, Long.MAX_VALUE, Long.MAX_VALUE - 1, 1, full.apply(JournalCodec.MAX_REASON)),
                new Released(Long.MAX_VALUE, Long.MAX_VALUE, facts, full.apply(JournalCodec.MAX_REASON)),
                new JournalEvent.CatalogLoaded(Long.MAX_VALUE, "ffffffffffffffff", full.apply(JournalCodec.MAX_CATALOG_SOURCE), Integer.MAX_VALUE),
                new JournalEvent.Authored(Long.MAX_VALUE, full.apply(JournalCodec.MAX_LABEL), full.apply(JournalCodec.MAX_REASON),
                        new JournalEvent.CatalogLoaded(Long.MAX_VALUE, "ffffffffffffffff", full.apply(JournalCodec.MAX_CATALOG_SOURCE), Integer.MAX_VALUE)));
        for (JournalEvent event : largest) {
            byte[] record = encode(event);
            assertThat(record.length).isLessThanOrEqualTo(JournalCodec.MAX_RECORD_LENGTH);
            assertThat(decode(record)).isEqualTo(event);
        }
    }

    @Test
    void theFieldLimitCountsUtf8BytesExactlyAsTheEncoderWritesThem() {
        // Validation counts UTF-8 bytes without encoding; it must agree with String.getBytes, which
        // the encoder uses, for every string, unpaired surrogates included.
        Random random = new Random(seed("JournalCodecTest.theFieldLimitCountsUtf8BytesExactlyAsTheEncoderWritesThem"));
        char[] pieces = {'a', 'é', '€', '\uD83D', '\uDE00', '\u07FF', '\u0800', '\uFFFF', '\u0000'};
        for (int i = 0; i < 200_000; i++) {
            StringBuilder text = new StringBuilder();
            int length = random.nextInt(100);
            for (int k = 0; k < length; k++) {
                text.append(pieces[random.nextInt(pieces.length)]);
            }
            String value = text.toString();
            int limit = random.nextInt(300);
            assertThat(JournalCodec.utf8LongerThan(value, limit)).as("%s against %d", value, limit)
                    .isEqualTo(value.getBytes(StandardCharsets.UTF_8).length > limit);
        }
    }

    @Test
    void invalidEventsAreRefusedBeforeAnythingIsWritten(@TempDir Path directory) {
        long now = 1_795_000_000_000L;
        String hash = "ab".repeat(32);
        RequestFacts facts = new RequestFacts("r1", "acme", hash, "interactive", "openai", "gpt-4o-mini", "/v1/chat/completions", now, now, "");
        Usage usage = new Usage(10, 0, 0, 5, 0);
        List<JournalEvent> invalid = new ArrayList<>(List.of(
                new CreditAdded(now, "acme", -1, "top-up-1"),
                new CreditAdded(now, "acme", 0, "top-up-1"),
                new CreditAdded(now, "acme", 100, ""),
                new CreditAdded(-1, "acme", 100, "top-up-1"),
                new Adjusted(now, "acme", 0, "nothing", "adj-1"),
                new Adjusted(now, "acme", 5, "", "adj-1"),
                new AccountOpened(now, ""),
                new AccountOpened(now, null),
                new AccountOpened(now, "a".repeat(JournalCodec.MAX_ID + 1)),
                // 33 characters but 66 bytes: the limit is in bytes.
                new AccountOpened(now, "é".repeat(JournalCodec.MAX_ID / 2 + 1)),
                new KeyIssued(now, hash.toUpperCase(), "tg-abc", "ci", "acme"),
                new KeyIssued(now, hash.substring(1), "tg-abc", "ci", "acme"),
                new KeyIssued(now, hash.substring(2) + "zz", "tg-abc", "ci", "acme"),
                new KeyIssued(now, "tg-the-raw-key-itself-is-never-journaled-only-its-sha256-hash!", "tg-abc", "ci", "acme"),
                new KeyIssued(now, hash, "x".repeat(JournalCodec.MAX_DISPLAY_PREFIX + 1), "ci", "acme"),
                new KeyIssued(now, hash, "tg-abc", "€".repeat(JournalCodec.MAX_LABEL / 3 + 1), "acme"),
                new KeyRevoked(now, null),
                new ReservationMade(now, 0, "acme", hash, 100, "r1"),
                new ReservationMade(now, 1, "acme", hash, -100, "r1"),
                new ReservationMade(now, 1, "acme", hash, 100, ""),
                new ReservationExtended(now, 1, 0),
                new ReservationExtended(now, 1, -5),
                new ReservationExtended(now, -1, 5),
                new Settled(now, 1, facts, usage, true, 100, 90, 0, "completed"),
                new Settled(now, 1, facts, usage, true, 100, 90, 20, "completed"),
                new Settled(now, 1, facts, usage, true, -10, -10, 0, "completed"),
                new Settled(now, 1, facts, usage, true, 0, 10, -10, "completed"),
                // debit + write-off overflows to exactly this negative cost: still not a valid cost.
                new Settled(now, 1, facts, usage, true, Long.MIN_VALUE, Long.MAX_VALUE, 1, "completed"),
                new Settled(now, 1, facts, null, true, 0, 0, 0, "completed"),
                new Settled(now, 1, null, usage, true, 0, 0, 0, "completed"),
                new Settled(now, 1, facts, usage, true, 0, 0, 0, "r".repeat(JournalCodec.MAX_REASON + 1)),
                new Released(now, 1, facts, ""),
                new Released(now, 1, new RequestFacts("r1", "acme", hash, "interactive", "openai", "m", "/e", now, now - 1, ""), "late"),
                new Released(now, 1, new RequestFacts("r1", "acme", hash, "l".repeat(JournalCodec.MAX_LANE + 1), "openai", "m", "/e", now, now, ""), "x"),
                new Released(now, 1, new RequestFacts("r1", "acme", hash, "interactive", "openai", "m".repeat(JournalCodec.MAX_MODEL + 1), "/e", now, now,
                        ""), "x"),
                new Released(now, 1, new RequestFacts("r1", "acme", hash, "interactive", "openai", "m", "/e", now, now,
                        "u".repeat(JournalCodec.MAX_UPSTREAM_ID + 1)), "x"),
                new Released(now, 1, new RequestFacts("r1", "acme", hash.replace('a', 'A'), "interactive", "openai", "m", "/e", now, now, ""), "x"),
                new Released(now, 1, new RequestFacts("r1", "acme", hash, "interactive", "openai", "m", "/e", now, now, "", "0123456789ABCDEF"), "x"),
                new Released(now, 1, new RequestFacts("r1", "acme", hash, "interactive", "openai", "m", "/e", now, now, "", "0123456789abcde"), "x"),
                new Settled(now, 1, new RequestFacts("r1", "acme", hash, "interactive", "openai", "m", "/e", now, now, "", "builtin"), usage, true, 0, 0,
                        0, "completed"),
                new Settled(now, 1, new RequestFacts("r1", "acme", hash, "interactive", "openai", "m", "/e", now, now, "", null), usage, true, 0, 0,
                        0, "completed"),
                new JournalEvent.CatalogLoaded(now, "", "builtin", 12),
                new JournalEvent.CatalogLoaded(now, "0123456789abcdef0", "builtin", 12),
                new JournalEvent.CatalogLoaded(now, "0123456789abcdeg", "builtin", 12),
                new JournalEvent.CatalogLoaded(now, "0123456789abcdef", "", 12),
                new JournalEvent.CatalogLoaded(now, "0123456789abcdef", "s".repeat(JournalCodec.MAX_CATALOG_SOURCE + 1), 12),
                new JournalEvent.CatalogLoaded(now, "0123456789abcdef", "builtin", 0),
                new JournalEvent.KeyScopeSet(now, hash, "ci", "", "", java.util.List.of(), -1, java.util.List.of("10.0.0.0/33")),
                new JournalEvent.KeyScopeSet(now, hash, "ci", "", "", java.util.List.of("gpt-*-mini"), -1, java.util.List.of()),
                new JournalEvent.AlertSet(now, 2, "acme", 10),
                new JournalEvent.AlertSet(now, JournalEvent.AlertSet.KEY, hash, 0),
                new JournalEvent.AlertSet(now, JournalEvent.AlertSet.KEY, hash, 101),
                new JournalEvent.AlertSet(now, JournalEvent.AlertSet.KEY, "acme", 80),
                new JournalEvent.AlertSet(now, JournalEvent.AlertSet.ACCOUNT, "acme", -2),
                new JournalEvent.AlertRaised(now, null, "acme", hash, 0, 10, 8, 9),
                new JournalEvent.AlertRaised(now, JournalEvent.AlertRaised.Window.DAY, "acme", hash, -1, 10, 8, 9),
                new JournalEvent.AlertRaised(now, JournalEvent.AlertRaised.Window.DAY, "acme", hash, 0, 0, 8, 9),
                new JournalEvent.AlertRaised(now, JournalEvent.AlertRaised.Window.BALANCE, "acme", hash, 0, 10, 8, 9),
                new JournalEvent.AlertRaised(now, JournalEvent.AlertRaised.Window.TOTAL, "acme", hash, 0, 10, -8, 9),
                new JournalEvent.AlertRaised(now, JournalEvent.AlertRaised.Window.TOTAL, "acme", hash, 3, 10, 8, 9),
                new JournalEvent.AlertRaised(now, JournalEvent.AlertRaised.Window.DAY, "acme", hash, 1 << 20, 10, 8, 9),
                new JournalEvent.AlertRaised(now, JournalEvent.AlertRaised.Window.BALANCE, "acme", hash, 0, -1, 8, -9)));
        try (Journal journal = Journal.open(directory, Durability.PAGE_CACHE, 100)) {
            for (JournalEvent event : invalid) {
                assertThat(catchThrowable(() -> JournalCodec.validate(event))).as("%s", event).isInstanceOf(JournalFormatException.class)
                        .hasMessageContaining(event.type() + " record invalid");
                assertThat(catchThrowable(() -> encode(event))).as("%s", event).isInstanceOf(JournalFormatException.class);
                assertThat(catchThrowable(() -> journal.append(event))).as("%s", event).isInstanceOf(JournalFormatException.class);
            }
            assertThat(journal.lastIndex()).as("nothing was appended").isEqualTo(-1);
            assertThat(journal.readAfter(-1, (index, event) -> { })).isZero();
        }
    }

    @Test
    void everyFlippedBitIsCaught() {
        Random random = new Random(seed("JournalCodecTest.everyFlippedBitIsCaught"));
        RandomEvents events = new RandomEvents(random);
        long checked = 0;
        for (EventType type : EventType.values()) {
            for (int sample = 0; sample < 3; sample++) {
                byte[] record = encode(events.of(type));
                for (int bit = 0; bit < record.length * 8; bit++) {
                    byte[] damaged = record.clone();
                    damaged[bit / 8] ^= (byte) (1 << (bit % 8));
                    int position = bit;
                    assertThat(catchThrowable(() -> decode(damaged))).as("%s with bit %d flipped", type, position)
                            .isInstanceOf(JournalFormatException.class);
                    checked++;
                }
            }
        }
        System.out.println("flipped " + checked + " bits, each caught");
    }

    @Test
    void aRecordOfAnUnknownVersionIsAnErrorNamingTheVersion() {
        // SETTLED and RELEASED have versions 1 to 4, every other type only 1.
        JournalEvent settled = typicalSettlement(7, "acme", "cd".repeat(32), 1_795_000_000_000L);
        JournalEvent released = new Released(1, 7, ((Settled) settled).request(), "upstream_error");
        JournalEvent opened = new AccountOpened(1, "acme");
        JournalEvent catalog = new JournalEvent.CatalogLoaded(1, "0123456789abcdef", "builtin", 3);
        for (JournalEvent event : List.of(settled, released, opened, catalog)) {
            int current = JournalCodec.currentVersion(event.type());
            for (int version : new int[] {0, current + 1, 255}) {
                byte[] record = encode(event);
                record[1] = (byte) version;
                reseal(record); // a record intact in every other way, so only the version can refuse it
                assertThatThrownBy(() -> decode(record)).as("%s version %d", event.type(), version).isInstanceOf(JournalFormatException.class)
                        .hasMessageContaining("unknown version " + version).hasMessageContaining(event.type().toString());
            }
        }
        assertThatThrownBy(() -> encode(opened, 2)).isInstanceOf(IllegalArgumentException.class);
        // Version 1 has no place for a catalog version: writing one there would lose it silently.
        RequestFacts f = ((Settled) settled).request();
        Released priced = new Released(1, 7, new RequestFacts(f.requestId(), f.accountId(), f.keyHash(), f.lane(), f.provider(), f.model(),
                f.endpoint(), f.startMs(), f.endMs(), f.upstreamRequestId(), "0123456789abcdef"), "upstream_error");
        assertThat(decode(encode(priced))).isEqualTo(priced);
        assertThatThrownBy(() -> encode(priced, 1)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no catalog version");
    }

    /**
     * A SETTLED and a RELEASED record exactly as the code before catalog versions wrote them (version 1, bytes
     * captured from that code): they still read, with an empty catalog version, so journals from before replay.
     */
    /** {@code typicalSettlement(7, "acme", "cd".repeat(32), 1_795_000_000_000L)} encoded by the code of commit 461728d. */
    private static final String V1_SETTLED_HEX = "08010101005e56eea10100000700000000000000170074675f7265715f61353537323562633834373764616366040061636d65cdcdcdcdcd"
            + "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd0b00696e74657261637469766506006f70656e61690b006770742d346f"
            + "2d6d696e6914002f76312f636861742f636f6d706c6574696f6e73ae5a56eea1010000005e56eea101000024007265715f39643166306332"
            + "623765366134633366386232643165306639613862376336642c030000000000000004000000000000000000000000000064010000000000"
            + "004000000000000000014108000000000000410800000000000000000000000000000900636f6d706c657465642ab556b8";
    /** The same request's facts released with reason "upstream_error", encoded by the same code. */
    private static final String V1_RELEASED_HEX = "0901c500005e56eea10100000700000000000000170074675f7265715f61353537323562633834373764616366040061636d65cdcdcdcdcd"
            + "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd0b00696e74657261637469766506006f70656e61690b006770742d346f"
            + "2d6d696e6914002f76312f636861742f636f6d706c6574696f6e73ae5a56eea1010000005e56eea101000024007265715f39643166306332"
            + "623765366134633366386232643165306639613862376336640e00757073747265616d5f6572726f729e2c9219";

    @Test
    void aVersionOneDebitWrittenBeforeCatalogVersionsStillReads() {
        byte[] settled = HexFormat.of().parseHex(V1_SETTLED_HEX);
        byte[] released = HexFormat.of().parseHex(V1_RELEASED_HEX);
        assertThat(settled[1]).isEqualTo((byte) 1);
        assertThat(released[1]).isEqualTo((byte) 1);
        Settled expected = typicalSettlement(7, "acme", "cd".repeat(32), 1_795_000_000_000L);
        assertThat(expected.request().catalogVersion()).isEmpty();
        assertThat(decode(settled)).isEqualTo(expected);
        assertThat(decode(released)).isEqualTo(new Released(1_795_000_000_000L, 7, expected.request(), "upstream_error"));
        // Written again today it is version 5: an empty catalog version, row version, service tier, requested model and
        // attempts longer (2 bytes each), the multiplier (4 bytes), the direct cost (8 bytes, -1: prepaid), and the
        // settlement's five empty parts and two empty counts (5 x 8 + 2 bytes) longer; it reads back the same.
        byte[] now = encode(expected);
        assertThat(now[1]).isEqualTo((byte) 5);
        assertThat(now.length).isEqualTo(settled.length + 10 + 4 + 8 + 42);
        assertThat(decode(now)).isEqualTo(expected);
        assertThat(encode(expected, 1)).isEqualTo(settled);
    }

    @Test
    void anAuthoredRecordCarriesOnlyAnOperatorsChangeWithItsOwnTimestamp() {
        JournalEvent credit = new CreditAdded(7, "acme", 5_000_000, "invoice-1042#0123456789abcdef");
        JournalEvent.Authored authored = new JournalEvent.Authored(7, "ops-alice", "invoice 1042", credit);
        assertThat(decode(encode(authored))).isEqualTo(authored);
        assertThat(authored.change()).isEqualTo(credit);
        assertThatThrownBy(() -> encode(new JournalEvent.Authored(8, "ops-alice", "", credit))).isInstanceOf(JournalFormatException.class)
                .hasMessageContaining("another timestamp");
        assertThatThrownBy(() -> encode(new JournalEvent.Authored(7, "ops-alice", "", typicalSettlement(1, "acme", "ab".repeat(32), 7))))
                .isInstanceOf(JournalFormatException.class).hasMessageContaining("no change an operator makes");
        assertThatThrownBy(() -> encode(new JournalEvent.Authored(7, "ops", "", authored))).isInstanceOf(JournalFormatException.class);
        assertThatThrownBy(() -> encode(new JournalEvent.Authored(7, "", "", credit))).isInstanceOf(JournalFormatException.class)
                .hasMessageContaining("actor is empty");
        // A carried type code rewritten to a request's record is refused when read, even with a valid checksum.
        byte[] record = encode(authored);
        int codeAt = JournalCodec.HEADER_LENGTH + 2 + "ops-alice".length() + 2 + "invoice 1042".length();
        assertThat(record[codeAt]).isEqualTo((byte) EventType.CREDIT_ADDED.code());
        record[codeAt] = (byte) EventType.SETTLED.code();
        reseal(record);
        assertThatThrownBy(() -> decode(record)).isInstanceOf(JournalFormatException.class).hasMessageContaining("which no operator makes");
    }

    @Test
    void aRecordOfAnUnknownTypeIsAnError() {
        for (int code : new int[] {0, 19, 31, 32, 200, 255}) {
            byte[] record = encode(new AccountOpened(1, "acme"));
            record[0] = (byte) code;
            reseal(record);
            assertThatThrownBy(() -> decode(record)).isInstanceOf(JournalFormatException.class).hasMessageContaining("unknown record type " + code);
        }
    }

    @Test
    void aTruncatedRecordIsAnError() {
        Random random = new Random(seed("JournalCodecTest.aTruncatedRecordIsAnError"));
        RandomEvents events = new RandomEvents(random);
        for (EventType type : EventType.values()) {
            byte[] record = encode(events.of(type));
            for (int length = 0; length < record.length; length++) {
                // Cut short where it lies: the header's body length no longer matches.
                byte[] cut = Arrays.copyOf(record, length);
                assertThat(catchThrowable(() -> decode(cut))).as("%s cut to %d bytes", type, cut.length).isInstanceOf(JournalFormatException.class);
                if (length >= JournalCodec.HEADER_LENGTH + JournalCodec.CHECKSUM_LENGTH) {
                    // Cut short and resealed, as a writer that lost the end of the body would leave it:
                    // the header and checksum agree, and the body parser must notice what is missing.
                    byte[] resealed = reseal(Arrays.copyOf(record, length));
                    assertThat(catchThrowable(() -> decode(resealed))).as("%s body cut to %d bytes and resealed", type, resealed.length)
                            .isInstanceOf(JournalFormatException.class);
                }
            }
            // Bytes after the body, resealed: also an error, never ignored.
            byte[] longer = reseal(Arrays.copyOf(record, record.length + 3));
            assertThatThrownBy(() -> decode(longer)).isInstanceOf(JournalFormatException.class).hasMessageContaining("unread bytes");
        }
    }

    @Test
    void aStringLongerThanItsFieldAllowsIsAnErrorEvenWithAValidChecksum() {
        // An account id's length prefix raised above the limit, the checksum recomputed to match:
        // only the field limit stands between this record and a decoder reading past the field.
        byte[] record = encode(new AccountOpened(1, "acme"));
        ByteBuffer.wrap(record).order(ByteOrder.LITTLE_ENDIAN).putShort(JournalCodec.HEADER_LENGTH, (short) (JournalCodec.MAX_ID + 1));
        reseal(record);
        assertThatThrownBy(() -> decode(record)).isInstanceOf(JournalFormatException.class).hasMessageContaining("at most " + JournalCodec.MAX_ID);
        // Within the limit but past the end of the body.
        byte[] past = encode(new AccountOpened(1, "acme"));
        ByteBuffer.wrap(past).order(ByteOrder.LITTLE_ENDIAN).putShort(JournalCodec.HEADER_LENGTH, (short) 40);
        reseal(past);
        assertThatThrownBy(() -> decode(past)).isInstanceOf(JournalFormatException.class).hasMessageContaining("string of 40 bytes");
    }

    @Test
    void aDecodedRecordIsValidatedAgain() {
        // A credit of zero written by a buggy or older writer (checksum intact) is refused on the way out too.
        byte[] record = encode(new CreditAdded(1, "acme", 5, "k"));
        ByteBuffer buffer = ByteBuffer.wrap(record).order(ByteOrder.LITTLE_ENDIAN);
        int amountOffset = JournalCodec.HEADER_LENGTH + 2 + "acme".length();
        assertThat(buffer.getLong(amountOffset)).isEqualTo(5);
        buffer.putLong(amountOffset, -5);
        reseal(record);
        assertThatThrownBy(() -> decode(record)).isInstanceOf(JournalFormatException.class).hasMessageContaining("a credit must be positive");
    }
}
