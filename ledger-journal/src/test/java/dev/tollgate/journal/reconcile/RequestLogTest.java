package dev.tollgate.journal.reconcile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tollgate.journal.JournalEvent.Released;
import dev.tollgate.journal.JournalEvent.Settled;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RequestLogTest {
    @TempDir
    Path dir;

    @Test
    void pagesWalkTheFilteredRequestsNewestFirstWithoutGapsOrRepeats() throws Exception {
        long seed = TestSeeds.seed("RequestLogTest.pages");
        try (SimulatedHistory history = new SimulatedHistory(dir.resolve("journal"), seed, Instant.parse("2026-10-30T00:00:00Z"), 3 * 60_000)) {
            history.run(2_000); // a few days, so pages cross cycle files
            history.closeAll();
            String account = "acct-1";
            String key = busiestKey(history, account);

            checkPages(history, RequestLog.Query.ofAccount(account, 7), entry -> entry.request().accountId().equals(account));
            checkPages(history, RequestLog.Query.ofKey(key, 5), entry -> entry.request().keyHash().equals(key));
            checkPages(history, RequestLog.Query.ofAccount(account, 11).model("gpt-4o-mini").status(RequestLog.Status.SETTLED),
                    entry -> entry.request().accountId().equals(account) && entry.request().model().equals("gpt-4o-mini")
                            && entry.status() == RequestLog.Status.SETTLED);
            checkPages(history, RequestLog.Query.ofAccount(account, 3).status(RequestLog.Status.RELEASED),
                    entry -> entry.request().accountId().equals(account) && entry.status() == RequestLog.Status.RELEASED);
        }
    }

    /**
     * The account's key with the most requests: the first key issued may have been revoked early in a random
     * history (seed 8429281863548 left it six), too few to page through.
     */
    private static String busiestKey(SimulatedHistory history, String account) {
        java.util.Map<String, Integer> requestsByKey = new java.util.HashMap<>();
        history.journal.readAfter(-1, (index, event) -> {
            dev.tollgate.journal.JournalEvent.RequestFacts request = switch (event) {
                case Settled e -> e.request();
                case Released e -> e.request();
                default -> null;
            };
            if (request != null && request.accountId().equals(account)) {
                requestsByKey.merge(request.keyHash(), 1, Integer::sum);
            }
        });
        return requestsByKey.entrySet().stream().max(java.util.Map.Entry.comparingByValue()).orElseThrow().getKey();
    }

    private static void checkPages(SimulatedHistory history, RequestLog.Query first, Predicate<RequestLog.Entry> filter) {
        List<RequestLog.Entry> expected = new ArrayList<>();
        history.journal.readAfter(-1, (index, event) -> {
            RequestLog.Entry entry = switch (event) {
                case Settled e -> new RequestLog.Entry(index, e.timestampMs(), RequestLog.Status.SETTLED, e.request(), e.usage(),
                        e.usageReportedByProvider(), e.costMicros(), e.debitedMicros(), e.writtenOffMicros(), e.reason());
                case Released e -> new RequestLog.Entry(index, e.timestampMs(), RequestLog.Status.RELEASED, e.request(),
                        dev.tollgate.metering.Usage.ZERO, false, 0, 0, 0, e.reason());
                default -> null;
            };
            if (entry != null && filter.test(entry)) {
                expected.add(entry);
            }
        });
        Collections.reverse(expected);
        // A random history may leave a filter few matches; a smaller page keeps the walk more than three pages long.
        assertThat(expected).hasSizeGreaterThan(3);
        int limit = Math.min(first.limit(), (expected.size() - 1) / 3);
        first = new RequestLog.Query(first.accountId(), first.keyHash(), first.model(), first.status(), limit, first.beforeIndex(),
                first.maxScanned());

        List<RequestLog.Entry> paged = new ArrayList<>();
        RequestLog.Query query = first;
        int pages = 0;
        while (true) {
            RequestLog.Page page = RequestLog.query(history.journal, query);
            assertThat(page.entries().size()).isLessThanOrEqualTo(first.limit());
            paged.addAll(page.entries());
            pages++;
            if (!page.hasMore()) {
                break;
            }
            query = query.before(page.nextCursor());
        }
        assertThat(paged).isEqualTo(expected);
        assertThat(pages).isGreaterThan(3);
    }

    @Test
    void aPageStopsAtItsScanBoundAndTheCursorResumesThere() throws Exception {
        long seed = TestSeeds.seed("RequestLogTest.scanBound");
        try (SimulatedHistory history = new SimulatedHistory(dir.resolve("journal"), seed, Instant.parse("2026-10-30T00:00:00Z"), 60_000)) {
            history.run(500);
            RequestLog.Query nothingMatches = RequestLog.Query.ofAccount("acct-0", 10).model("no-such-model").maxScanned(100);
            RequestLog.Page page = RequestLog.query(history.journal, nothingMatches);
            assertThat(page.entries()).isEmpty();
            assertThat(page.scanned()).isEqualTo(100);
            assertThat(page.hasMore()).isTrue();
            long pages = 1;
            while (page.hasMore()) {
                page = RequestLog.query(history.journal, nothingMatches.before(page.nextCursor()));
                pages++;
            }
            long records = history.journal.recordsAfter(-1);
            assertThat(pages).isEqualTo(records / 100 + 1);
        }
    }
}
