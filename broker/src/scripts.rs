//! The Lua scripts, one file per atomic operation under `lua/`, each prefixed
//! with the shared helpers of `lua/_lib.lua`. Scripts are loaded once per
//! connection and called by SHA; a `NOSCRIPT` (Redis restarted or flushed its
//! script cache) reloads them all and retries once.
use fred::types::scripts::Script;

const LIB: &str = include_str!("lua/_lib.lua");

fn script(body: &str) -> Script {
    Script::from_lua(format!("{LIB}\n{body}"))
}

#[derive(Debug)]
pub(crate) struct Scripts {
    pub enqueue: Script,
    pub reserve: Script,
    pub ack: Script,
    pub fail: Script,
    pub extend: Script,
    pub release: Script,
    pub promote: Script,
    pub reclaim: Script,
    pub delete: Script,
    pub resume: Script,
    pub snooze: Script,
}

impl Scripts {
    pub fn new() -> Self {
        Scripts {
            enqueue: script(include_str!("lua/enqueue.lua")),
            reserve: script(include_str!("lua/reserve.lua")),
            ack: script(include_str!("lua/ack.lua")),
            fail: script(include_str!("lua/fail.lua")),
            extend: script(include_str!("lua/extend.lua")),
            release: script(include_str!("lua/release.lua")),
            promote: script(include_str!("lua/promote.lua")),
            reclaim: script(include_str!("lua/reclaim.lua")),
            delete: script(include_str!("lua/delete.lua")),
            resume: script(include_str!("lua/resume.lua")),
            snooze: script(include_str!("lua/snooze.lua")),
        }
    }

    pub fn all(&self) -> [&Script; 11] {
        [
            &self.enqueue,
            &self.reserve,
            &self.ack,
            &self.fail,
            &self.extend,
            &self.release,
            &self.promote,
            &self.reclaim,
            &self.delete,
            &self.resume,
            &self.snooze,
        ]
    }
}
