//! The prompts a call plays: finding one by name in the caller's language (or the
//! hotline's), queueing them behind the one playing, playing the next, stopping them all, and
//! the names and languages the timeline records.

use super::*;

impl Switch {
    /// Queue a prompt by name in `language` (falling back to the hotline's language).
    /// Returns false when no such prompt exists.
    pub(super) fn queue_prompt(
        &mut self,
        now: Instant,
        call: CallId,
        name: &str,
        language: &str,
    ) -> bool {
        let Some(id) = self.find_prompt(call, name, language) else {
            tracing::warn!(call = %call, prompt = name, language, "prompt missing; skipped");
            return false;
        };
        if let Some(c) = self.calls.get_mut(&call) {
            c.prompt_queue.push_back(id);
        }
        if self.calls.get(&call).is_some_and(|c| c.playing.is_none()) {
            self.play_next_queued(now, call);
        }
        true
    }

    /// A prompt by name in `language`, falling back to the call's hotline language.
    pub(super) fn find_prompt(&self, call: CallId, name: &str, language: &str) -> Option<PromptId> {
        let c = self.calls.get(&call)?;
        let default_language = self
            .dialplan
            .hotlines
            .iter()
            .find(|h| h.name == c.hotline)
            .map(|h| h.language.as_str())
            .unwrap_or(language);
        self.prompts
            .find(language, name)
            .or_else(|| self.prompts.find(default_language, name))
    }

    pub(super) fn language_of(&self, call: CallId) -> String {
        self.calls
            .get(&call)
            .map(|c| c.language.clone())
            .unwrap_or_default()
    }

    pub(super) fn play_next_queued(&mut self, now: Instant, call: CallId) -> bool {
        let Some(c) = self.calls.get_mut(&call) else {
            return false;
        };
        let Some(id) = c.prompt_queue.pop_front() else {
            return false;
        };
        c.playing = Some(id);
        let language = self.prompt_language(id);
        let play = self.next_play();
        if let Some(c) = self.calls.get_mut(&call) {
            c.play = Some(play);
        }
        self.outputs.push_back(Output::Media(MediaCommand::Play {
            call,
            prompt: id,
            play,
        }));
        let name = self.prompt_name(id);
        self.record(now, call, EventKind::PromptStarted { name, language });
        true
    }

    pub(super) fn stop_prompts(&mut self, now: Instant, call: CallId) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.prompt_queue.clear();
        let was_music = std::mem::take(&mut c.looping);
        c.play = None;
        if let Some(stopped) = c.playing.take() {
            self.outputs
                .push_back(Output::Media(MediaCommand::Stop { call }));
            if was_music {
                return;
            }
            let name = self.prompt_name(stopped);
            self.record(
                now,
                call,
                EventKind::PromptFinished {
                    name,
                    interrupted: true,
                },
            );
        }
    }

    pub(super) fn prompt_name(&self, id: PromptId) -> String {
        self.prompts
            .label(id)
            .map(|(_, name)| name.to_string())
            .unwrap_or_default()
    }

    pub(super) fn prompt_language(&self, id: PromptId) -> String {
        self.prompts
            .label(id)
            .map(|(language, _)| language.to_string())
            .unwrap_or_default()
    }
}
