package dev.tollgate.bench.load;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class HarnessTest {

    @Test
    void findsTheAccountRowOfTheUsageCsvByColumnName() {
        String csv = """
                account,requests,released,input,cache_read,cache_write,output,reasoning,debited_micros,written_off_micros
                other,1,0,1,0,0,1,0,1,0
                load,102512,0,9000,0,0,2050240,0,7597410,0
                """;
        var row = Harness.csvRow(csv, "account", "load");
        assertThat(row).containsEntry("requests", "102512").containsEntry("output", "2050240").containsEntry("debited_micros", "7597410");
        assertThat(Harness.csvRow(csv, "account", "nobody")).isNull();
        assertThat(Harness.csvRow("no header here\n", "account", "load")).isNull();
    }

    @Test
    void roundsRatesDownToTwoSignificantDigits() {
        assertThat(Harness.roundDown2(1234.5)).isEqualTo(1200);
        assertThat(Harness.roundDown2(99.9)).isEqualTo(99);
        assertThat(Harness.roundDown2(15_000)).isEqualTo(15_000);
        assertThat(Harness.roundDown2(7.5)).isEqualTo(7);
        assertThat(Harness.roundDown2(0.2)).isEqualTo(1);
    }
}
