package dev.tollgate.metering.request;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.tollgate.config.EndpointFamily;

/**
 * Fuzzes request inspection with the bytes a client sends as a body, on every endpoint family. Plain test
 * runs replay {@code RequestInspectorFuzzTestInputs/<method>/}; {@code bin/fuzz} fuzzes.
 *
 * <p>Input layout: the first byte picks the endpoint family, the rest is the body.
 */
class RequestInspectorFuzzTest {
    private static final EndpointFamily[] FAMILIES = EndpointFamily.values();

    /**
     * Whatever the body, inspection ends in exactly one of a request or a rejection, never an exception; an
     * admitted request names a model and bounds its output with a positive count, and a rejection says why.
     */
    @FuzzTest
    void inspectionEndsInARequestOrARejection(FuzzedDataProvider data) {
        EndpointFamily family = FAMILIES[Math.floorMod(data.consumeByte(), FAMILIES.length)];
        byte[] body = data.consumeRemainingAsBytes();
        RequestInspector.Result result = RequestInspector.inspect(family, body, 0, body.length);
        assertThat(result.request() == null).as("exactly one of a request or a rejection").isNotEqualTo(result.rejection() == null);
        if (result.rejection() != null) {
            assertThat(result.rejection().message()).as("a rejection says why").isNotBlank();
            return;
        }
        InspectedRequest request = result.request();
        assertThat(request.model()).as("an admitted request names its model").isNotBlank();
        assertThat(request.bodyBytes()).isEqualTo(body.length);
        assertThat(request.requestedOutputTokens()).as("an output cap is absent (-1) or a count").isGreaterThanOrEqualTo(-1);
        assertThat(request.choices()).isPositive();
        assertThat(request.imageParts()).isNotNegative();
    }
}
