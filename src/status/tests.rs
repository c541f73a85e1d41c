use super::*;

fn request(method: Method, path: &str, headers: &[(&str, &str)]) -> HttpRequest<()> {
    let mut builder = hyper::Request::builder().method(method).uri(path);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).expect("a request")
}

#[test]
fn a_browser_at_the_root_is_sent_to_the_page_and_everything_else_goes_to_json_rpc() {
    let html = [("accept", "text/html,application/xhtml+xml")];
    assert_eq!(route(&request(Method::GET, "/", &html)), Some(Route::Redirect("status")));
    assert_eq!(route(&request(Method::GET, "/", &[])), None, "a GET without text/html is JSON-RPC's to answer");
    let upgrade = [("accept", "text/html"), ("upgrade", "websocket"), ("connection", "Upgrade")];
    assert_eq!(route(&request(Method::GET, "/", &upgrade)), None, "WebSocket subscriptions go through");
    assert_eq!(route(&request(Method::POST, "/", &html)), None, "JSON-RPC calls go through");
    assert_eq!(route(&request(Method::POST, "/?x=1", &[])), None);
    assert_eq!(route(&request(Method::GET, "/metrics", &html)), None);
}

#[test]
fn the_pages_paths_and_nothing_else_under_status() {
    for (path, wanted) in [
        ("/status", Route::Page),
        ("/status?refresh=1", Route::Page),
        ("/status/", Route::Redirect("../status")),
        ("/status/app.js", Route::Script),
        ("/status/app.css", Route::Style),
        ("/status/snapshot", Route::Snapshot),
        ("/status/events", Route::Events),
        ("/status/../../etc/passwd", Route::NotFound),
        ("/status/app.js/..", Route::NotFound),
        ("/status/%2e%2e/secret", Route::NotFound),
    ] {
        assert_eq!(route(&request(Method::GET, path, &[])), Some(wanted), "{path}");
    }
    let long = format!("/status/{}", "a".repeat(10_000));
    assert_eq!(route(&request(Method::GET, &long, &[])), Some(Route::NotFound));
    assert_eq!(route(&request(Method::HEAD, "/status", &[])), Some(Route::Page));
    for method in [Method::POST, Method::PUT, Method::DELETE, Method::OPTIONS] {
        assert_eq!(route(&request(method.clone(), "/status/snapshot", &[])), Some(Route::NotFound), "{method}: read-only");
    }
    assert_eq!(route(&request(Method::GET, "/statusx", &[])), None, "a path that only starts like it is not the page's");
}

#[test]
fn the_embedded_page_loads_nothing_from_elsewhere() {
    for (name, text) in [("index.html", PAGE), ("app.js", SCRIPT), ("app.css", STYLE)] {
        for outside in ["http://", "https://", "//cdn", "@import", "fonts.googleapis"] {
            assert!(!text.contains(outside), "{name} reaches outside the node: {outside}");
        }
    }
    assert!(!SCRIPT.contains("innerHTML"), "values are drawn as text, never parsed as HTML");
    assert!(!PAGE.contains("<script>") && !PAGE.contains("style="), "no inline script or style: the CSP refuses them");
}
