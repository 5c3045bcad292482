package dev.tollgate.journal.reconcile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tollgate.journal.JournalEvent.Released;
import dev.tollgate.journal.JournalEvent.RequestFacts;
import dev.tollgate.journal.JournalEvent.Settled;
import dev.tollgate.journal.reconcile.UsageQuery.Dimension;
import java.nio.file.Path;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Usage from the rollups equals usage counted request by request from the journal, for every grouping. */
class UsageTest {
    @TempDir
    Path dir;

    @Test
    void everyGroupingOfTheRollupsEqualsTheJournalCountedRequestByRequest() throws Exception {
        long seed = TestSeeds.seed("UsageTest.groupings");
        try (SimulatedHistory history = new SimulatedHistory(dir.resolve("journal"), seed, Instant.parse("2026-10-30T00:00:00Z"), 3 * 60_000)) {
            history.run(2_500);
            Reconciliation reconciliation = Reconciliation.load(history.journal, dir.resolve("none"));
            long from = Instant.parse("2026-10-31T05:00:00Z").toEpochMilli();
            long to = Instant.parse("2026-11-03T17:00:00Z").toEpochMilli();
            String key = history.keys.get(1).sha256Hex();
            List<Set<Dimension>> groupings = List.of(Set.of(), EnumSet.of(Dimension.KEY), EnumSet.of(Dimension.MODEL), EnumSet.of(Dimension.LANE),
                    EnumSet.of(Dimension.DAY), EnumSet.of(Dimension.DAY, Dimension.MODEL), EnumSet.of(Dimension.KEY, Dimension.MODEL, Dimension.LANE, Dimension.DAY),
                    EnumSet.allOf(Dimension.class));
            int rows = 0;
            for (Set<Dimension> groupBy : groupings) {
                for (UsageQuery query : List.of(new UsageQuery(from, to, null, null, groupBy), new UsageQuery(from, to, "acct-2", null, groupBy),
                        new UsageQuery(from, to, null, key.substring(0, 10), groupBy))) {
                    List<UsageRow> answer = reconciliation.usage(query);
                    Map<UsageRow, UsageTotals> expected = countFromJournal(history, query);
                    Map<UsageRow, UsageTotals> actual = new HashMap<>();
                    answer.forEach(row -> actual.put(group(row), row.totals()));
                    assertThat(actual).as("%s", query).isEqualTo(expected);
                    rows += answer.size();
                }
            }
            assertThat(rows).isGreaterThan(100);
        }
    }

    private static UsageRow group(UsageRow row) {
        return new UsageRow(row.accountId(), row.keyHash(), row.provider(), row.model(), row.lane(), row.day(), null);
    }

    private static Map<UsageRow, UsageTotals> countFromJournal(SimulatedHistory history, UsageQuery query) {
        Map<UsageRow, UsageTotals> totals = new HashMap<>();
        history.journal.readAfter(-1, (index, event) -> {
            RequestFacts facts;
            UsageTotals one;
            if (event instanceof Settled e) {
                facts = e.request();
                one = new UsageTotals(1, 0, e.usage().inputTokens(), e.usage().cacheReadTokens(), e.usage().cacheWriteTokens(),
                        e.usage().outputTokens(), e.usage().reasoningTokens(), e.debitedMicros(), e.writtenOffMicros());
            } else if (event instanceof Released e) {
                facts = e.request();
                one = new UsageTotals(0, 1, 0, 0, 0, 0, 0, 0, 0);
            } else {
                return;
            }
            // The query's range is in whole hours (both ends are hour-aligned here).
            if (event.timestampMs() < query.fromMs() || event.timestampMs() >= query.toMs()
                    || (query.accountId() != null && !query.accountId().equals(facts.accountId()))
                    || (query.keyHash() != null && !facts.keyHash().startsWith(query.keyHash()))) {
                return;
            }
            Set<Dimension> by = query.groupBy();
            UsageRow group = new UsageRow(by.contains(Dimension.ACCOUNT) ? facts.accountId() : null, by.contains(Dimension.KEY) ? facts.keyHash() : null,
                    by.contains(Dimension.MODEL) ? facts.provider() : null, by.contains(Dimension.MODEL) ? facts.model() : null,
                    by.contains(Dimension.LANE) ? facts.lane() : null,
                    by.contains(Dimension.DAY) ? LocalDate.ofInstant(Instant.ofEpochMilli(event.timestampMs()), ZoneOffset.UTC) : null, null);
            totals.merge(group, one, UsageTotals::plus);
        });
        return totals;
    }
}
