//! The runtime shims: the clock and a timer, from the browser on wasm32 and from the system
//! and tokio elsewhere.

use std::time::{Duration, SystemTime};

/// The current time: the browser clock on wasm32, the system clock elsewhere.
pub fn now() -> SystemTime {
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    {
        SystemTime::UNIX_EPOCH + Duration::from_millis(js_sys::Date::now() as u64)
    }
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    {
        SystemTime::now()
    }
}

/// Waits `d` (`setTimeout` in a browser, tokio's timer elsewhere).
pub(crate) async fn sleep(d: Duration) {
    #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
    {
        let promise = js_sys::Promise::new(&mut |resolve, _| {
            let global = js_sys::global();
            if let Ok(set_timeout) = js_sys::Reflect::get(&global, &"setTimeout".into()) {
                let set_timeout: js_sys::Function = set_timeout.into();
                let _ = set_timeout.call2(&global, &resolve, &(d.as_millis() as f64).into());
            }
        });
        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    }
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    tokio::time::sleep(d).await;
}
