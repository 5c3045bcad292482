package dev.tollgate.bench.load;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class BodyScanTest {

    private static ByteBuf body(String json) {
        return Unpooled.copiedBuffer(json, StandardCharsets.UTF_8);
    }

    @Test
    void readsTheFieldsTheMockNeedsWhateverTheSpacing() {
        ByteBuf body = body("{ \"model\" : \"gpt-4o-mini\",\n \"stream\":\ttrue, \"stream_options\": {\"include_usage\": true},"
                + " \"max_tokens\": 64, \"messages\": [{\"role\":\"user\",\"content\":\"hi [sim:events=7] [sim:delay-ms=250]\"}]}");
        assertThat(BodyScan.stringField(body, "model", 200)).isEqualTo("gpt-4o-mini");
        assertThat(BodyScan.booleanField(body, "stream")).isTrue();
        assertThat(BodyScan.booleanField(body, "include_usage")).isTrue();
        assertThat(BodyScan.intField(body, "max_tokens")).isEqualTo(64);
        assertThat(BodyScan.intField(body, "max_completion_tokens")).isEqualTo(BodyScan.ABSENT);
        assertThat(BodyScan.directive(body, "[sim:events=")).isEqualTo(7);
        assertThat(BodyScan.directive(body, "[sim:delay-ms=")).isEqualTo(250);
        assertThat(BodyScan.directive(body, "[sim:first-byte-ms=")).isEqualTo(BodyScan.ABSENT);
        body.release();
    }

    @Test
    void aKeyInsideAStringValueOrAFalseFlagDoesNotCount() {
        ByteBuf body = body("{\"model\":\"m\\\"x\",\"stream\":false,\"messages\":[{\"content\":\"say \\\"stream\\\": true\"}]}");
        assertThat(BodyScan.booleanField(body, "stream")).isFalse();
        assertThat(BodyScan.stringField(body, "model", 200)).isEqualTo("m\\\"x");
        assertThat(BodyScan.stringField(body, "model", 2)).isNull();
        assertThat(BodyScan.stringField(body, "absent", 200)).isNull();
        body.release();
    }
}
