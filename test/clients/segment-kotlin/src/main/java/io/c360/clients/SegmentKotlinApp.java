package io.c360.clients;

import com.segment.analytics.kotlin.core.RequestFactory;
import com.segment.analytics.kotlin.core.compat.ConfigurationBuilder;
import com.segment.analytics.kotlin.core.compat.JavaAnalytics;
import java.net.HttpURLConnection;
import java.util.Map;

/**
 * Sends identify, screen, track, group and alias through Segment's Kotlin SDK to the collector at
 * args[0] (host:port) with write key args[1], user C-args[2]; then flushes and stays up, retrying as
 * the SDK does, until the test that started it has seen every event land and stops it.
 */
public final class SegmentKotlinApp {
  /** The SDK opens https:// URLs only; the collector under test listens on plain HTTP on loopback, so only the scheme changes. */
  static final class PlainHttp extends RequestFactory {
    @Override
    public HttpURLConnection openConnection(String url) {
      return super.openConnection(url.replaceFirst("^https://", "http://"));
    }
  }

  public static void main(String[] args) throws InterruptedException {
    String host = args[0];
    String user = "C-" + args[2];
    JavaAnalytics analytics = new JavaAnalytics(
        new ConfigurationBuilder(args[1])
            .setApplication(new Object())
            .setApiHost(host + "/v1")
            .setCdnHost(host + "/v1")
            .setFlushAt(5)
            .setFlushInterval(1)
            .setRequestFactory(new PlainHttp())
            .build());
    analytics.identify(user, Map.of("plan", "gold"));
    analytics.screen("Cart", Map.of("items", 3), "Shop");
    analytics.track("Added", Map.of("sku", "sku-1", "qty", 2));
    analytics.group("G-" + args[2], Map.of("name", "Acme"));
    analytics.alias(user + "-2");
    analytics.flush();
    System.out.println("queued");
    Thread.sleep(120_000);
  }
}
