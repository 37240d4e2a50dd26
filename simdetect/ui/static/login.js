"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const failed = new URLSearchParams(window.location.search).get("failed") === "1";
  document.getElementById("failed").hidden = !failed;
  document.getElementById("key").focus();
});
