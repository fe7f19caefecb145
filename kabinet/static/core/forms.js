// Form behaviour from data attributes instead of inline handlers (the Content-Security-Policy allows no inline
// script): `data-autosubmit` on a field submits its form when the choice changes (language, organisation, month);
// `data-no-submit` on a form stops Enter from submitting it (its buttons act through htmx).
document.addEventListener("change", (event) => {
  const field = event.target;
  if (field instanceof Element && field.matches("[data-autosubmit]") && field.form) {
    field.form.submit();
  }
});

document.addEventListener("submit", (event) => {
  if (event.target instanceof HTMLFormElement && event.target.matches("[data-no-submit]")) {
    event.preventDefault();
  }
});
