// linesman: behaviour shared by every page (no inline script: the CSP forbids it).

// Ask before anything is deleted.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-confirm]");
  if (button && !window.confirm(button.dataset.confirm)) {
    event.preventDefault();
  }
});

// The session list's "select all" box and the buttons that need a selection.
const selection = document.getElementById("selection");
if (selection) {
  const boxes = () => [...selection.querySelectorAll('input[name="session_uuids[]"]')];
  const needy = [...selection.querySelectorAll("[data-needs-selection]")];
  const pairs = [...selection.querySelectorAll("[data-needs-two]")];
  const refresh = () => {
    const chosen = boxes().filter((box) => box.checked).length;
    needy.forEach((button) => { button.disabled = chosen === 0; });
    pairs.forEach((button) => { button.disabled = chosen !== 2; });
  };
  const all = document.getElementById("select-all");
  if (all) {
    all.addEventListener("change", () => {
      boxes().forEach((box) => { box.checked = all.checked; });
      refresh();
    });
  }
  selection.addEventListener("change", refresh);
  refresh();
  pairs.forEach((button) => button.addEventListener("click", () => {
    const [a, b] = boxes().filter((box) => box.checked).map((box) => box.value);
    window.location.href = `${button.dataset.compare}?${new URLSearchParams({ a, b })}`;
  }));
}
