// Talking to the REST API: JSON in and out, errors as readable messages.

const config = JSON.parse(document.getElementById("page-config").textContent);

export { config };

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

async function readError(response) {
  let detail = "";
  try {
    const body = await response.json();
    detail = body.error || body.detail || JSON.stringify(body);
  } catch {
    detail = response.statusText;
  }
  if (response.status === 401 || response.status === 403) {
    return new ApiError(`${detail} (sign in to do this)`, response.status);
  }
  if (response.status === 429) {
    return new ApiError("Too many requests: the API asks us to slow down. Try again in a minute.", 429);
  }
  return new ApiError(detail || `The API answered ${response.status}`, response.status);
}

export async function getJSON(url, { signal } = {}) {
  let response;
  try {
    response = await fetch(url, { headers: { Accept: "application/json" }, signal, credentials: "same-origin" });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError("The archive cannot be reached: check the connection and try again.", 0);
  }
  if (!response.ok) throw await readError(response);
  return response.json();
}

export async function postJSON(url, body) {
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        Accept: "application/json",
        "Content-Type": "application/json",
        "X-CSRFToken": config.csrfToken,
      },
      body: JSON.stringify(body),
    });
  } catch {
    throw new ApiError("The archive cannot be reached: check the connection and try again.", 0);
  }
  if (!response.ok) throw await readError(response);
  return response.json();
}

export const searchUrl = (params) => `${config.stac}search?${params}`;
export const aggregateUrl = (params) => `${config.stac}aggregate?${params}`;
export const swathUrl = (uuid) => `${config.api}swaths/${uuid}/`;
export const downloadUrl = (uuid) => `${config.api}swaths/${uuid}/download`;
export const stacItemUrl = (collection, uuid) => `${config.stac}collections/${collection}/items/${uuid}`;
