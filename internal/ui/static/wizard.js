// Enterprise Identity Setup wizard: the little the pages need beyond HTML. Everything works
// without it (links and forms); with it, copy buttons appear, the SSO protocol fields follow the
// chosen protocol, and progress updates while the operator works.
"use strict";

// Copy buttons: data-copy names the input to copy; the result is announced to screen readers.
function setUpCopyButtons() {
  const announcer = document.createElement("p");
  announcer.className = "visually-hidden";
  announcer.setAttribute("role", "status");
  document.body.appendChild(announcer);
  document.querySelectorAll("button[data-copy]").forEach((button) => {
    button.hidden = false;
    button.addEventListener("click", async () => {
      const field = document.getElementById(button.dataset.copy);
      try {
        await navigator.clipboard.writeText(field.value);
      } catch {
        field.select();
        document.execCommand("copy");
      }
      const label = button.textContent;
      button.textContent = "Copied";
      announcer.textContent = label.replace(/^Copy /, "") + " copied to the clipboard";
      setTimeout(() => { button.textContent = label; }, 2000);
    });
  });
}

// The SSO step shows the fields of the chosen protocol only.
function setUpProtocolChoice() {
  const radios = document.querySelectorAll('input[name="protocol"]');
  if (radios.length === 0) return;
  const show = () => {
    const chosen = document.querySelector('input[name="protocol"]:checked');
    document.querySelectorAll("fieldset[data-protocol]").forEach((fs) => {
      fs.hidden = chosen !== null && fs.dataset.protocol !== chosen.value;
    });
  };
  radios.forEach((r) => r.addEventListener("change", show));
  show();
}

// Progress regions (data-poll) refresh every two seconds while the operator works
// (data-pending="true"); when it is done, the page reloads once so its forms and links follow,
// unless the admin has started typing in a form (their input is kept; the progress still updates).
function setUpProgress() {
  let typing = false;
  document.querySelectorAll("form").forEach((f) => f.addEventListener("input", () => { typing = true; }));
  document.querySelectorAll("[data-poll]").forEach((region) => {
    if (region.dataset.pending !== "true") return;
    const tick = async () => {
      try {
        const response = await fetch(region.dataset.poll, { credentials: "same-origin", headers: { Accept: "text/html" } });
        if (response.ok) {
          const holder = document.createElement("div");
          holder.innerHTML = await response.text();
          const next = holder.querySelector("[data-poll]");
          if (next && next.dataset.pending !== "true") {
            if (typing) {
              region.innerHTML = next.innerHTML;
            } else {
              window.location.reload();
            }
            return;
          }
          // Replace only what changed, so screen readers announce news, not every poll.
          if (next && next.innerHTML !== region.innerHTML) region.innerHTML = next.innerHTML;
        }
      } catch {
        // The next tick tries again.
      }
      setTimeout(tick, 2000);
    };
    setTimeout(tick, 2000);
  });
}

// Buttons with data-busy say so while their form is submitted (the self-test takes a moment).
function setUpBusyButtons() {
  document.querySelectorAll("button[data-busy]").forEach((button) => {
    button.form.addEventListener("submit", () => {
      button.textContent = button.dataset.busy;
      button.setAttribute("aria-disabled", "true");
    });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  setUpCopyButtons();
  setUpProtocolChoice();
  setUpProgress();
  setUpBusyButtons();
});
