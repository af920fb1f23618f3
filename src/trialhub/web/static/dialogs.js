// The confirmation dialogs of the customer page: a link with data-dialog opens its
// <dialog> instead of the confirmation page it leads to without script.
document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-dialog]");
  if (!link) return;
  const dialog = document.getElementById(link.dataset.dialog);
  if (!dialog || typeof dialog.showModal !== "function") return;
  event.preventDefault();
  dialog.showModal();
});
